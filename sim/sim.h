/*
 * sim/sim.h — the deterministic simulator: thousands of overlay cores (peer/core/) on a
 * virtual network with a virtual clock, faults and adversaries.
 *
 * Determinism: every random choice comes from one seeded generator (xoshiro256**), events
 * are ordered by (time, sequence number), and nothing depends on addresses of memory or
 * on the wall clock; the same configuration gives the same run, event for event. The
 * digest folds every delivered message and every timer into one 64-bit value.
 *
 * A run: nodes join one after another (each bootstraps from a few nodes already in), the
 * overlay settles, then adversaries switch to their behaviour and lookups start from
 * random live honest nodes towards random targets. A lookup succeeds when its result
 * holds the live honest node closest to the target, the origin aside (the node an honest
 * overlay would name). With storage (objects > 0), puts of signed objects run beside the
 * lookups, then gets; a get is judged against the newest version its writer put, byte for
 * byte. With churn rounds, the puts are followed by rounds that replace a share of the
 * nodes, and after each the simulator counts, from the stores themselves, the live genuine
 * copies of each object's newest version, and reads every object: what replica maintenance
 * (the cores' own, driven by the stores' scan and held) kept alive.
 *
 * Determinism and keys: writers' keys and certificates come from OpenSSL's generator, not
 * the seed, so the digest folds what a STORE or OBJECT says (entry, seq, times, value)
 * and not its certificate and signature bytes.
 *
 * The virtual link layer proves identities as DTLS would: a message sent to a contact is
 * delivered to the node at that contact's address, and if that node's ID is not the
 * contact's ID, the sender gets link_failed instead. Adversaries therefore can only name
 * each other with their real, server-assigned IDs.
 */
#ifndef CORDON_SIM_SIM_H
#define CORDON_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

enum cordon_sim_kind {
    CORDON_SIM_HONEST = 0,
    CORDON_SIM_DROP,    /* joins, then answers nothing */
    CORDON_SIM_ECLIPSE, /* joins, then answers FIND_NODE only with colluders closest to the
                           target, and PING with PONG to stay in tables */
    CORDON_SIM_FLOOD,   /* joins, then sends requests far above the per-node limits */
    CORDON_SIM_FLAP,    /* leaves and rejoins (same ID) as fast as it can */
    /* Storage adversaries route honestly and lie with their object store (sim/objects.h): */
    CORDON_SIM_REFUSE, /* acknowledges every STORE as accepted, keeps nothing */
    CORDON_SIM_STALE,  /* keeps the first version of each object it is sent, acknowledges
                          newer ones, serves that first one */
    CORDON_SIM_FORGE,  /* stores honestly, serves altered objects (one value byte flipped) */
    CORDON_SIM_KINDS
};

struct cordon_sim_config {
    uint32_t nodes;
    uint32_t lookups;
    uint64_t seed;
    uint32_t k, alpha, disjoint;
    double share[CORDON_SIM_KINDS];          /* share of the nodes of each adversary kind */
    double loss;                             /* probability that a message is lost */
    double churn_per_minute;                 /* honest nodes that crash (and as many that join) per
                                                virtual minute during the lookup phase */
    uint32_t latency_min_ms, latency_max_ms; /* one-way latency, uniform */
    uint32_t join_interval_ms;               /* between two joins (10) */
    uint32_t settle_ms;                      /* quiet time after the last join (60000) */
    uint32_t lookup_interval_ms;             /* between two lookup starts (5) */
    uint32_t bootstrap;                      /* contacts a joining node starts from (3) */
    uint32_t flood_rate;                     /* requests per second each flooder sends (2000) */
    uint32_t flap_period_ms;                 /* a flapper's time up, then down (10000) */
    double partition_share; /* share of nodes cut off during the partition (0: none) */
    uint32_t partition_start_ms, partition_end_ms; /* relative to the first lookup */
    /* Storage (0 objects: none, and no node has a store). When the adversaries switch on,
     * honest writers put `objects` owned objects of value_size bytes, then `updates` newer
     * versions of each; once every put has ended, `reads` gets start from random honest
     * nodes for random objects. r is the overlay's `replicas`. */
    uint32_t objects;
    uint32_t value_size;       /* bytes of each value, 1..CORDON_OBJECT_VALUE_MAX (64) */
    uint32_t updates;          /* newer versions put of each object (1) */
    uint32_t reads;            /* gets after the puts (objects) */
    uint32_t replicas;         /* r, 1..k (3) */
    uint32_t put_interval_ms;  /* between two put starts (10) */
    uint32_t read_interval_ms; /* between two get starts (5) */
    /* Replica maintenance (peer/core/core.h): off gives the stores no scan and held, so the
     * cores run none; the periods are the core's defaults when 0. */
    bool maintain;                 /* (true) */
    uint32_t maintain_ms;          /* a pass over the whole store, 1..86400000 (0: default) */
    uint32_t maintain_soon_ms;     /* after the table gains a node, 1..maintain_ms (0: default) */
    uint32_t maintain_watch_ms;    /* pings to other replicas, 1..maintain_ms (0: default) */
    uint32_t watch_timeout_min_ms; /* their least timeout, 1..1000 (0: default) */
    /* Churn rounds (storage only): once every put has ended, churn_rounds periods of
     * churn_period_ms follow; in each, churn_fraction of the honest nodes live at its start,
     * drawn at random, leave for good, one at a time at even intervals, and as many new
     * honest nodes with fresh IDs join through random live nodes. At the start (check 0)
     * and at the end of every round the simulator counts the live genuine copies of each
     * object's newest version (a lost object has none) and starts `reads` gets (the
     * objects in turn, from random live honest nodes), while the next round runs. */
    uint32_t churn_rounds;    /* 0..CORDON_SIM_ROUNDS_MAX (0: none) */
    double churn_fraction;    /* 0..1 */
    uint32_t churn_period_ms; /* (600000) */
};

#define CORDON_SIM_ROUNDS_MAX 16

/* One check of a churn run: at the start (round 0) or at the end of a round. */
struct cordon_sim_check {
    uint64_t at_ms;        /* virtual time since the first round began */
    uint32_t replaced;     /* nodes replaced until then, every round */
    uint32_t live;         /* nodes live */
    uint32_t stored;       /* objects with an accepted put */
    uint32_t lost;         /* of them, with no live genuine copy of their newest version */
    uint32_t under;        /* with fewer than r such copies (lost ones included) */
    uint32_t copies_min;   /* fewest copies of one object */
    double copies_avg;     /* copies per stored object */
    uint32_t reads;        /* gets started by this check */
    uint32_t reads_newest; /* returned the newest version */
    uint32_t reads_failed; /* returned nothing */
    uint32_t reads_wrong;  /* returned anything else */
};

struct cordon_sim_result {
    uint32_t nodes;
    uint32_t lookups, succeeded;
    double success_rate;
    double hops_median, hops_p99;     /* requests chained to reach the closest node */
    double rounds_median, rounds_p99; /* rounds until the lookup ended (k closest confirmed) */
    double messages_per_lookup;
    uint64_t digest;
    double wall_seconds;
    uint64_t virtual_ms;
    uint64_t events;
    uint64_t messages;             /* messages delivered */
    double memory_avg, memory_max; /* bytes of core heap per node at the end */
    uint64_t dropped_rate_node, dropped_rate_global, refused_churn, refused_prefix;
    uint64_t dropped_unsolicited, timeouts, evictions;
    uint64_t paced, retried_limited; /* honest senders keeping to the receivers' limits */
    uint32_t adversaries[CORDON_SIM_KINDS];
    uint32_t crashed, joined_late;
    /* storage */
    uint32_t puts, puts_ok;   /* puts started; of them, accepted by at least one replica */
    uint32_t reads;           /* gets of an object with an accepted put */
    uint32_t reads_newest;    /* returned exactly the newest version its writer put (accepted) */
    uint32_t reads_failed;    /* returned no object */
    uint32_t reads_wrong;     /* returned anything else: must be 0 unless captured */
    uint32_t reads_wrong_old; /* of them, a genuine older version (replay) */
    uint32_t reads_captured;  /* gets whose r live nodes closest to the object were all
                                 adversaries when they started: nobody could answer well */
    double read_success_rate; /* reads_newest / reads */
    uint64_t get_stale, get_forged; /* answers outvoted, summed over the honest cores */
    uint64_t stores_accepted;       /* STOREs answered accepted by honest cores */
    /* replica maintenance, summed over the honest cores, those that left included */
    uint64_t maintain_passes, summaries_sent, summaries_served, maintain_pushed, maintain_accepted;
    uint64_t maintain_retargeted;                     /* targets added after a SUMMARY failed */
    uint64_t maintain_watched, maintain_watch_failed; /* watch pings sent, failed */
    uint32_t maintain_ms, maintain_soon_ms, maintain_watch_ms; /* the periods the cores ran with */
    uint32_t watch_timeout_min_ms;
    /* churn rounds: checks[0] before the first round, checks[i] after round i */
    uint32_t checks_done;
    uint32_t replaced;
    struct cordon_sim_check checks[CORDON_SIM_ROUNDS_MAX + 1];
};

void cordon_sim_config_default(struct cordon_sim_config *cfg);
CORDON_MUST_CHECK cordon_err cordon_sim_run(const struct cordon_sim_config *cfg,
                                            struct cordon_sim_result *out);

const char *cordon_sim_kind_name(enum cordon_sim_kind kind);

#endif
