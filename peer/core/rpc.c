/*
 * peer/core/rpc.c — requests in flight. Each carries a 32-bit transaction ID drawn from
 * the host's randomness (unique among the pending ones), a timeout that doubles with each
 * retry, and the node ID it was sent to. An answer is accepted only when its txid names a
 * pending request, it comes from the node that request went to, and its type answers the
 * request's (PONG for PING, NODES for FIND_NODE, STORED for STORE, OBJECT for FETCH, WANT
 * for SUMMARY, or ERROR); the entry is then removed, so a second copy of the answer is
 * unsolicited like any other. Everything else is counted in dropped_unsolicited and ignored.
 *
 * A pending STORE or FETCH holds no object or key of its own: each try asks storage.c to
 * fill the message from its put or get, which outlives all of its requests.
 *
 * A request goes out when this node's pacing of the receiver lets it (limits.c: the
 * overlay's per-node request and routing rates, which the receiver enforces); until then it
 * waits in the table, held, its timeout not started. An ERROR "rate limited" answer means
 * the receiver is busy, not gone: while the request has retries left it is held for the
 * length of its current timeout and sent again, like a retry after a timeout.
 *
 * A request fails on its last timeout, on a link failure, or on an ERROR "rate limited"
 * answer to its last try. Timeouts and link failures count against the contact (fail_evict
 * in a row evict it); a refusal does not.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/core/internal.h"

#define PEND_FIRST_CAP 16

static size_t pend_index_txid(const cordon_core *core, uint32_t txid)
{
    for (size_t i = 0; i < core->npend; i++)
        if (core->pend[i].txid == txid)
            return i;
    return SIZE_MAX;
}

static void pend_resize(cordon_core *core, size_t cap)
{
    struct pending *p = realloc(core->pend, cap * sizeof(*p));
    if (p == NULL)
        return; /* growing failed: the caller sees no room; shrinking failed: keep it */
    core->pend = p;
    core->pend_cap = cap;
}

/* Removes entry i and hands back a copy: callers resolve it after the table is consistent,
 * since resolving may start new requests. */
static struct pending pend_take(cordon_core *core, size_t i)
{
    struct pending p = core->pend[i];
    core->pend[i] = core->pend[--core->npend];
    if (core->pend_cap > PEND_FIRST_CAP && core->npend <= core->pend_cap / 4)
        pend_resize(core, core->pend_cap / 2);
    return p;
}

static void pend_send(cordon_core *core, const struct pending *p)
{
    /* Sent: from here its timeout runs (the caller set it). */
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = p->type;
    m.txid = p->txid;
    if (p->type == CORDON_MSG_FIND_NODE)
        memcpy(m.u.find_node.target, p->target, CORDON_NODE_ID_LEN);
    if (p->purpose == PURPOSE_STORAGE && !cordon_storage_request(core, p, &m))
        return; /* cannot happen: it then times out */
    cordon_core_send_msg(core, &p->to, &m);
}

/* The tries p may take after its first. A watch ping takes none: it asks whether a replica
 * is still there, and a failure only starts a maintenance pass early (storage.c); a retry
 * would triple the time a departed replica's last partners take to notice. For the same
 * reason it waits a few round trips (cordon_table_watch_timeout), not rpc_timeout_ms. */
static uint32_t pend_retries(const cordon_core *core, const struct pending *p)
{
    return p->purpose == PURPOSE_WATCH ? 0 : core->cfg.rpc_retries;
}

/* Counts one more try of p, with twice the timeout (sent by pend_go, now or later). */
static void pend_retry(cordon_core *core, struct pending *p)
{
    p->tries++;
    p->timeout_ms *= 2;
    if (p->purpose == PURPOSE_LOOKUP)
        cordon_lookups_resent(core, p);
}

/* Sends entry i now if pacing lets it go (its timeout starts), else holds it until then.
 * The entry may be gone or moved when this returns: sending can fail the link at once. */
static void pend_go(cordon_core *core, uint64_t now_ms, size_t i)
{
    struct pending *p = &core->pend[i];
    uint64_t wait = cordon_limits_pace(core, now_ms, p->to.id, p->type == CORDON_MSG_FIND_NODE);
    if (wait > 0) {
        if (!p->held)
            core->st.paced++;
        p->held = 1;
        p->deadline_ms = now_ms + wait;
        return;
    }
    p->held = 0;
    p->deadline_ms = now_ms + p->timeout_ms;
    struct pending copy = *p;
    pend_send(core, &copy);
}

cordon_err cordon_rpc_request(cordon_core *core, uint64_t now_ms, const struct cordon_contact *to,
                              uint8_t type, const uint8_t *target, uint8_t purpose, uint32_t lookup,
                              uint8_t path)
{
    if (core->npend >= CORDON_PENDING_MAX)
        return CORDON_ERR_BUSY;
    if (core->npend == core->pend_cap) {
        size_t cap = core->pend_cap == 0 ? PEND_FIRST_CAP : core->pend_cap * 2;
        pend_resize(core, cap > CORDON_PENDING_MAX ? CORDON_PENDING_MAX : cap);
        if (core->npend == core->pend_cap)
            return CORDON_ERR_NOMEM;
    }
    /* Unpredictable to other nodes; unique among at most CORDON_PENDING_MAX entries, so
     * stepping past collisions ends quickly. */
    uint32_t txid;
    cordon_core_fill_random(core, &txid, sizeof(txid));
    while (pend_index_txid(core, txid) != SIZE_MAX)
        txid++;

    struct pending *p = &core->pend[core->npend++];
    memset(p, 0, sizeof(*p));
    p->to = *to;
    if (target != NULL)
        memcpy(p->target, target, CORDON_NODE_ID_LEN);
    p->txid = txid;
    p->timeout_ms = purpose == PURPOSE_WATCH ? cordon_table_watch_timeout(core, to->id)
                                             : core->cfg.rpc_timeout_ms;
    p->lookup = lookup;
    p->type = type;
    p->purpose = purpose;
    p->path = path;
    pend_go(core, now_ms, core->npend - 1);
    return CORDON_OK;
}

/* The request p (already out of the table) is over: tell whoever was waiting. */
static void resolved(cordon_core *core, uint64_t now_ms, const struct pending *p,
                     enum rpc_outcome outcome, const struct cordon_msg *m)
{
    switch (p->purpose) {
    case PURPOSE_JOIN:
        cordon_core_join_pinged(core, now_ms);
        break;
    case PURPOSE_CHECK:
        cordon_table_check_done(core, cordon_id_cpl(core->self.id, p->to.id));
        break;
    case PURPOSE_LOOKUP:
        cordon_lookups_resolved(core, now_ms, p, outcome, m);
        break;
    case PURPOSE_STORAGE:
        cordon_storage_resolved(core, now_ms, p, outcome, m);
        break;
    case PURPOSE_WATCH:
        cordon_maint_watch_resolved(core, outcome);
        break;
    default:
        break;
    }
}

static bool answer_fits(uint8_t request, uint8_t answer)
{
    return answer == CORDON_MSG_ERROR ||
           (request == CORDON_MSG_PING && answer == CORDON_MSG_PONG) ||
           (request == CORDON_MSG_FIND_NODE && answer == CORDON_MSG_NODES) ||
           (request == CORDON_MSG_STORE && answer == CORDON_MSG_STORED) ||
           (request == CORDON_MSG_FETCH && answer == CORDON_MSG_OBJECT) ||
           (request == CORDON_MSG_SUMMARY && answer == CORDON_MSG_WANT);
}

void cordon_rpc_answer(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                       const struct cordon_msg *m)
{
    size_t i = pend_index_txid(core, m->txid);
    if (i == SIZE_MAX || !cordon_id_equal(core->pend[i].to.id, from->id) ||
        !answer_fits(core->pend[i].type, m->type) ||
        (core->pend[i].held && core->pend[i].tries == 0)) {
        core->st.dropped_unsolicited++; /* the last case: an answer to what was never sent */
        return;
    }
    struct pending *busy = &core->pend[i];
    if (m->type == CORDON_MSG_ERROR && m->u.error.code == CORDON_MSGERR_RATE_LIMITED &&
        busy->tries < pend_retries(core, busy)) {
        /* Busy, not gone: the same request again after a pause as long as this try's
         * timeout, paced like any other (same txid: nothing else answers it meanwhile). */
        busy->held = 1;
        busy->deadline_ms = now_ms + busy->timeout_ms;
        pend_retry(core, busy);
        core->st.retried_limited++;
        return;
    }
    struct pending p = pend_take(core, i);
    /* The first try's send time: a sample once the contact is in the table (below). */
    uint64_t sent_ms = p.deadline_ms - p.timeout_ms;
    enum rpc_outcome outcome = RPC_ANSWERED;
    if (m->type == CORDON_MSG_ERROR) {
        outcome = RPC_REFUSED;
        /* "Rate limited" says that we asked too much, not that the node failed: it neither
         * refreshes nor counts against the contact. Counting it (as this once did) let a
         * busy origin evict every neighbour that throttled it and empty its own table. */
        if (m->u.error.code != CORDON_MSGERR_RATE_LIMITED)
            cordon_table_seen(core, now_ms, from);
    } else {
        cordon_table_seen(core, now_ms, from);
    }
    if (p.tries == 0 && !p.held && now_ms >= sent_ms)
        cordon_table_rtt(core, from->id, now_ms - sent_ms);
    resolved(core, now_ms, &p, outcome, m);
}

void cordon_rpc_tick(cordon_core *core, uint64_t now_ms)
{
    for (;;) {
        size_t i = 0;
        while (i < core->npend && core->pend[i].deadline_ms > now_ms)
            i++;
        if (i == core->npend)
            return;
        struct pending *p = &core->pend[i];
        if (p->held) {
            pend_go(core, now_ms, i); /* its time to go, or a later one */
            continue;
        }
        if (p->tries < pend_retries(core, p)) {
            /* Same txid: a late answer to the first try is as good as one to the retry. */
            pend_retry(core, p);
            pend_go(core, now_ms, i);
            continue;
        }
        struct pending done = pend_take(core, i);
        core->st.timeouts++;
        cordon_table_failed(core, now_ms, done.to.id);
        resolved(core, now_ms, &done, RPC_FAILED, NULL);
    }
}

/* Resolves as failed the requests to id that are pending now (not those that resolving
 * them may start). */
static void fail_all_to(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN])
{
    uint32_t txids[CORDON_PENDING_MAX];
    size_t n = 0;
    for (size_t i = 0; i < core->npend; i++)
        if (cordon_id_equal(core->pend[i].to.id, id))
            txids[n++] = core->pend[i].txid;
    for (size_t j = 0; j < n; j++) {
        size_t i = pend_index_txid(core, txids[j]);
        if (i == SIZE_MAX || !cordon_id_equal(core->pend[i].to.id, id))
            continue;
        struct pending p = pend_take(core, i);
        resolved(core, now_ms, &p, RPC_FAILED, NULL);
    }
}

void cordon_rpc_link_failed(cordon_core *core, uint64_t now_ms, const struct cordon_contact *to)
{
    /* One failure for the contact however many requests were waiting on the link. */
    cordon_table_failed(core, now_ms, to->id);
    fail_all_to(core, now_ms, to->id);
}

void cordon_rpc_forget(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN])
{
    fail_all_to(core, now_ms, id);
}

uint64_t cordon_rpc_next_deadline(const cordon_core *core)
{
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < core->npend; i++)
        if (core->pend[i].deadline_ms < t)
            t = core->pend[i].deadline_ms;
    return t;
}

size_t cordon_rpc_memory(const cordon_core *core)
{
    return core->pend_cap * sizeof(struct pending);
}

void cordon_rpc_free(cordon_core *core)
{
    free(core->pend);
    core->pend = NULL;
    core->npend = core->pend_cap = 0;
}
