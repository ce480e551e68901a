/*
 * peer/core/limits.c — what a core refuses before it does any work: the global inbound
 * budget (one token bucket for every message, inbound_rate per second, one second deep),
 * per-node token buckets for requests and for routing queries (common/ratelimit.h, keyed
 * by the proven node ID, at most CORDON_RATE_NODES_MAX busy senders each; the senders
 * beyond share an overflow bucket of inbound_rate / CORDON_OVERFLOW_SHARE per second), and
 * the churn limiter that keeps node IDs which leave and come
 * back too often out of the routing table.
 *
 * Pacing: this node keeps to the same per-node limits as a sender. Every node enforces
 * the request and routing rates of the overlay document, so every node knows them: a
 * request that would overdraw the receiver's bucket for us waits in the pending table
 * (rpc.c) until it would not. Without it an honest burst (a hundred puts at once, each a
 * lookup of twenty FIND_NODEs over the same few dozen nodes) was answered RATE_LIMITED
 * by the very nodes closest to its resources, its lookups ended without them, and its
 * objects were stored on nodes a reader's lookup does not reach (tests/integration/
 * peer_storage_e2e.sh, under load). The sender's buckets hold PACE_SHARE of the receiver's
 * rate and depth, a margin for datagrams that arrive closer together than they left.
 *
 * STOREs pay a request token and then one of their own: a per-node store bucket
 * (store_rate per second, store_burst deep) and one global store budget (store_global_rate
 * per second, one second deep). A STORE may cost a signature check and a synced write, so a
 * flood of them (RFC 5694 section 7) is held to far less than the request rate: one node
 * gets store_rate, and a crowd of Sybils, however many, no more than the global budget. A
 * sender the store table cannot track (it is full of busy senders) draws on the global
 * budget only, which every STORE pays anyway.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/core/internal.h"

static uint64_t random_seed(cordon_core *core)
{
    uint64_t seed;
    cordon_core_fill_random(core, &seed, sizeof(seed));
    return seed;
}

/* A plain token bucket: `rate` tokens a second, one second deep. */
static bool bucket_take(struct token_bucket *b, double rate, uint64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
        if (b->tokens > rate)
            b->tokens = rate;
        b->last_ms = now_ms;
    }
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

#define PACE_SHARE 0.8
#define PACE_NODES 32 /* receivers paced at once; requests to others go unpaced */

static double overflow_rate(const cordon_core *core)
{
    double rate = (double)core->cfg.params.inbound_rate / CORDON_OVERFLOW_SHARE;
    return rate < 1.0 ? 1.0 : rate;
}

/* This node's mirror of a receiver's per-node limit: PACE_SHARE of its rate and depth. */
static cordon_err pace_new(cordon_core *core, double rate, double burst, cordon_ratelimit **out)
{
    burst *= PACE_SHARE;
    return cordon_ratelimit_new(PACE_SHARE * rate, burst < 1 ? 1 : burst, PACE_NODES,
                                random_seed(core), out);
}

cordon_err cordon_limits_init(cordon_core *core)
{
    const struct cordon_overlay_params *p = &core->cfg.params;
    cordon_err err = cordon_ratelimit_new(p->request_rate, p->request_burst, CORDON_RATE_NODES_MAX,
                                          random_seed(core), &core->rate_request);
    if (err != CORDON_OK)
        return err;
    err = cordon_ratelimit_new(p->routing_rate, p->routing_burst, CORDON_RATE_NODES_MAX,
                               random_seed(core), &core->rate_routing);
    if (err != CORDON_OK)
        return err;
    err = pace_new(core, p->request_rate, p->request_burst, &core->pace_request);
    if (err != CORDON_OK)
        return err;
    err = pace_new(core, p->routing_rate, p->routing_burst, &core->pace_routing);
    if (err != CORDON_OK)
        return err;
    core->global.tokens = p->inbound_rate;
    core->overflow.tokens = overflow_rate(core);
    return CORDON_OK;
}

cordon_err cordon_limits_store_init(cordon_core *core)
{
    const struct cordon_core_config *c = &core->cfg;
    cordon_err err = cordon_ratelimit_new(c->store_rate, c->store_burst, CORDON_RATE_NODES_MAX,
                                          random_seed(core), &core->rate_store);
    if (err != CORDON_OK)
        return err;
    core->store_global.tokens = c->store_global_rate;
    core->store_global.last_ms = core->now_ms;
    return CORDON_OK;
}

bool cordon_limits_store(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN])
{
    if (core->rate_store == NULL)
        return true; /* no storage: the STORE is answered "unsupported" */
    if (!cordon_ratelimit_take(core->rate_store, id, CORDON_NODE_ID_LEN, now_ms) &&
        cordon_ratelimit_has(core->rate_store, id, CORDON_NODE_ID_LEN))
        return false; /* its own bucket is empty */
    return bucket_take(&core->store_global, core->cfg.store_global_rate, now_ms);
}

bool cordon_limits_global(cordon_core *core, uint64_t now_ms)
{
    return bucket_take(&core->global, core->cfg.params.inbound_rate, now_ms);
}

/* One token from id's bucket in rl. A sender the table cannot track (it is full of busy
 * senders: a hot spot, or Sybils holding it) draws from the overflow bucket that all such
 * senders share, so honest crowds are served and a crowd of Sybils gets only that share
 * of the inbound budget. */
static bool node_take(cordon_core *core, cordon_ratelimit *rl, const uint8_t id[CORDON_NODE_ID_LEN],
                      uint64_t now_ms)
{
    if (cordon_ratelimit_take(rl, id, CORDON_NODE_ID_LEN, now_ms))
        return true;
    if (cordon_ratelimit_has(rl, id, CORDON_NODE_ID_LEN))
        return false; /* its own bucket is empty */
    return bucket_take(&core->overflow, overflow_rate(core), now_ms);
}

bool cordon_limits_node(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN],
                        bool routing)
{
    /* Every request pays a request token, so a refused routing query still counts
     * against the sender's request budget. */
    if (!node_take(core, core->rate_request, id, now_ms))
        return false;
    return !routing || node_take(core, core->rate_routing, id, now_ms);
}

uint64_t cordon_limits_pace(cordon_core *core, uint64_t now_ms,
                            const uint8_t id[CORDON_NODE_ID_LEN], bool routing)
{
    uint64_t wait = cordon_ratelimit_wait_ms(core->pace_request, id, CORDON_NODE_ID_LEN, now_ms);
    if (routing) {
        uint64_t w = cordon_ratelimit_wait_ms(core->pace_routing, id, CORDON_NODE_ID_LEN, now_ms);
        wait = w > wait ? w : wait;
    }
    if (wait > 0)
        return wait;
    /* A take fails only when the table is full of busy receivers: this one goes unpaced,
     * and a RATE_LIMITED answer, if it comes, is retried (rpc.c). */
    (void)cordon_ratelimit_take(core->pace_request, id, CORDON_NODE_ID_LEN, now_ms);
    if (routing)
        (void)cordon_ratelimit_take(core->pace_routing, id, CORDON_NODE_ID_LEN, now_ms);
    return 0;
}

static struct churn_entry *churn_find(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN])
{
    for (size_t i = 0; i < core->nchurn; i++)
        if (cordon_id_equal(core->churn[i].id, id))
            return &core->churn[i];
    return NULL;
}

/* A slot for a new ID: a free one (growing the array), else the oldest entry's. */
static struct churn_entry *churn_slot(cordon_core *core)
{
    if (core->nchurn == core->churn_cap && core->churn_cap < CORDON_CHURN_TRACKED_MAX) {
        size_t cap = core->churn_cap == 0 ? 16 : core->churn_cap * 2;
        if (cap > CORDON_CHURN_TRACKED_MAX)
            cap = CORDON_CHURN_TRACKED_MAX;
        struct churn_entry *grown = realloc(core->churn, cap * sizeof(*grown));
        if (grown != NULL) {
            core->churn = grown;
            core->churn_cap = cap;
        }
    }
    if (core->nchurn < core->churn_cap)
        return &core->churn[core->nchurn++];
    if (core->nchurn == 0)
        return NULL; /* out of memory before the first entry */
    struct churn_entry *oldest = &core->churn[0];
    for (size_t i = 1; i < core->nchurn; i++)
        if (core->churn[i].last_ms < oldest->last_ms)
            oldest = &core->churn[i];
    return oldest;
}

void cordon_churn_evicted(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN])
{
    struct churn_entry *e = churn_find(core, id);
    if (e == NULL) {
        e = churn_slot(core);
        if (e == NULL)
            return;
        memset(e, 0, sizeof(*e));
        memcpy(e->id, id, CORDON_NODE_ID_LEN);
    }
    e->out = true;
    e->last_ms = now_ms;
}

bool cordon_churn_admit(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN])
{
    struct churn_entry *e = churn_find(core, id);
    if (e == NULL || !e->out)
        return true; /* a first admission is never limited */
    uint64_t window_ms = (uint64_t)core->cfg.params.churn_window * 1000;
    if (e->rejoins > 0 && now_ms >= e->window_start_ms + window_ms)
        e->rejoins = 0; /* the window has passed */
    if (e->rejoins >= core->cfg.params.churn_max_rejoins) {
        core->st.refused_churn++;
        return false;
    }
    if (e->rejoins == 0)
        e->window_start_ms = now_ms;
    e->rejoins++;
    e->out = false;
    e->last_ms = now_ms;
    return true;
}

size_t cordon_limits_memory(const cordon_core *core)
{
    size_t bytes = core->churn_cap * sizeof(struct churn_entry);
    if (core->rate_request != NULL)
        bytes += cordon_ratelimit_memory(core->rate_request);
    if (core->rate_routing != NULL)
        bytes += cordon_ratelimit_memory(core->rate_routing);
    if (core->rate_store != NULL)
        bytes += cordon_ratelimit_memory(core->rate_store);
    if (core->pace_request != NULL)
        bytes += cordon_ratelimit_memory(core->pace_request);
    if (core->pace_routing != NULL)
        bytes += cordon_ratelimit_memory(core->pace_routing);
    return bytes;
}

void cordon_limits_free(cordon_core *core)
{
    cordon_ratelimit_free(core->rate_request);
    cordon_ratelimit_free(core->rate_routing);
    cordon_ratelimit_free(core->rate_store);
    cordon_ratelimit_free(core->pace_request);
    cordon_ratelimit_free(core->pace_routing);
    free(core->churn);
    core->rate_request = core->rate_routing = core->rate_store = NULL;
    core->pace_request = core->pace_routing = NULL;
    core->churn = NULL;
    core->nchurn = core->churn_cap = 0;
}
