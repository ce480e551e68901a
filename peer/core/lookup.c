/*
 * peer/core/lookup.c — iterative lookups over d disjoint paths (S/Kademlia, section 4.4).
 *
 * Start: the k contacts of the routing table closest to the target are dealt round-robin
 * to the d paths (the closest to path 0, the next to path 1, ...). Each path keeps its own
 * shortlist of candidates, sorted by distance to the target and capped at 2k, and keeps at
 * most alpha FIND_NODE requests in flight, always to its closest candidates not yet asked.
 *
 * Disjointness: a lookup keeps one "claimed" set of the nodes any of its paths has asked.
 * A path asks only unclaimed nodes and claims them as it asks, and it takes candidates
 * from its own answers only, leaving out claimed ones; a candidate another path claimed
 * in the meantime is dropped from the shortlist when the path comes to it. So no node is
 * asked by two paths, and a node that lies on one path cannot steer another.
 *
 * Finds (LOOKUP_FIND) are frugal: each path keeps one request in flight instead of alpha,
 * the target is asked as soon as any path has it as a candidate (from the table or from an
 * answer), and while that request is out no path sends anything else. A find of a node in
 * our own table is then one message, and of another node usually d + 1 (the first answers
 * name it): every message is a record to encrypt and often a link to open, and a user
 * looking up one node needs only that node's answer. If the target fails to answer, the
 * paths go on as before.
 *
 * Termination: a find ends as soon as the target node itself answers on
 * any path: its answer came over a link that proved its ID, so the node is found and the
 * search for the k closest need not go on. Otherwise a path ends when the min(k, n) closest
 * entries of its shortlist have all
 * answered (a failed candidate leaves the shortlist, so the next one moves up), when it has
 * no candidate left, or when it has sent 3k requests and none is in flight. Every request
 * resolves, by an answer or by its last timeout, and a path sends at most 3k of them, so
 * every path and every lookup ends within a bounded time. The lookup ends when its last
 * path does; its result is the k closest nodes that answered on any path, closest first,
 * and its callback runs exactly once, after the lookup has left the table.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/core/internal.h"

#define FORGET_CLAIMS 16 /* room for nodes forgotten while a lookup runs */

static struct lookup *lookup_by_serial(cordon_core *core, uint32_t serial)
{
    for (size_t i = 0; serial != 0 && i < CORDON_LOOKUPS_MAX; i++)
        if (core->lookups[i] != NULL && core->lookups[i]->serial == serial)
            return core->lookups[i];
    return NULL;
}

static const struct claim *claim_find(const struct lookup *lk, const uint8_t id[CORDON_NODE_ID_LEN])
{
    for (size_t i = 0; i < lk->nclaims; i++)
        if (cordon_id_equal(lk->claims[i].id, id))
            return &lk->claims[i];
    return NULL;
}

static void claim_add(struct lookup *lk, const uint8_t id[CORDON_NODE_ID_LEN], uint8_t path)
{
    if (lk->nclaims >= lk->claims_cap)
        return;
    memcpy(lk->claims[lk->nclaims].id, id, CORDON_NODE_ID_LEN);
    lk->claims[lk->nclaims].path = path;
    lk->nclaims++;
}

static size_t cand_index(const struct lookup_path *p, const uint8_t id[CORDON_NODE_ID_LEN])
{
    for (size_t i = 0; i < p->n; i++)
        if (cordon_id_equal(p->cand[i].c.id, id))
            return i;
    return SIZE_MAX;
}

static void cand_drop(struct lookup_path *p, size_t i)
{
    memmove(&p->cand[i], &p->cand[i + 1], (p->n - i - 1) * sizeof(p->cand[0]));
    p->n--;
}

/* Inserts c in distance order; when the shortlist is full the farthest entry goes, or c
 * does if it is the farthest. */
static void cand_insert(struct lookup *lk, struct lookup_path *p, const struct cordon_contact *c,
                        uint8_t depth)
{
    size_t at = p->n;
    while (at > 0 && cordon_id_distance_cmp(lk->target, c->id, p->cand[at - 1].c.id) < 0)
        at--;
    if (at >= lk->shortlist_cap)
        return;
    size_t last = p->n < lk->shortlist_cap ? p->n : (size_t)lk->shortlist_cap - 1;
    memmove(&p->cand[at + 1], &p->cand[at], (last - at) * sizeof(p->cand[0]));
    p->cand[at].c = *c;
    p->cand[at].state = CAND_NEW;
    p->cand[at].depth = depth;
    if (p->n < lk->shortlist_cap)
        p->n++;
}

/* Index of the closest candidate of the path's first k that is still to be asked, dropping
 * those another path claimed meanwhile; SIZE_MAX when there is none. */
static size_t next_to_ask(const struct lookup *lk, struct lookup_path *p, size_t k)
{
    for (size_t i = 0; i < p->n && i < k;) {
        if (p->cand[i].state != CAND_NEW) {
            i++;
            continue;
        }
        if (claim_find(lk, p->cand[i].c.id) != NULL) {
            cand_drop(p, i);
            continue;
        }
        return i;
    }
    return SIZE_MAX;
}

/* true while one of the path's first k has not answered yet. */
static bool window_open(const struct lookup_path *p, size_t k)
{
    for (size_t i = 0; i < p->n && i < k; i++)
        if (p->cand[i].state != CAND_ANSWERED)
            return true;
    return false;
}

static void finish(cordon_core *core, struct lookup *lk)
{
    struct cordon_contact closest[CORDON_K_MAX];
    uint8_t depth[CORDON_K_MAX];
    size_t k = core->cfg.params.k, n = 0;
    for (size_t pi = 0; pi < lk->npaths; pi++) {
        const struct lookup_path *p = &lk->path[pi];
        for (size_t i = 0; i < p->n; i++) {
            if (p->cand[i].state != CAND_ANSWERED)
                continue;
            const struct cordon_contact *c = &p->cand[i].c;
            size_t at = n;
            while (at > 0 && cordon_id_distance_cmp(lk->target, c->id, closest[at - 1].id) < 0)
                at--;
            if (at >= k)
                continue;
            size_t last = n < k ? n : k - 1;
            memmove(&closest[at + 1], &closest[at], (last - at) * sizeof(closest[0]));
            memmove(&depth[at + 1], &depth[at], (last - at) * sizeof(depth[0]));
            closest[at] = *c;
            depth[at] = p->cand[i].depth;
            if (n < k)
                n++;
        }
    }
    /* Leave the table before the callback, which may start a lookup of its own. */
    for (size_t i = 0; i < CORDON_LOOKUPS_MAX; i++)
        if (core->lookups[i] == lk)
            core->lookups[i] = NULL;
    core->nlookups--;
    if (lk->kind == LOOKUP_REFRESH)
        cordon_core_refresh_done(core);
    else if (lk->kind == LOOKUP_SELF)
        cordon_core_self_lookup_done(core);
    cordon_lookup_cb cb = lk->kind == LOOKUP_USER || lk->kind == LOOKUP_FIND ? lk->cb : NULL;
    void *arg = lk->arg;
    struct cordon_lookup_stats stats = lk->stats;
    stats.hops = n > 0 ? depth[0] : 0;
    free(lk);
    if (cb != NULL)
        cb(arg, n > 0 ? CORDON_OK : CORDON_ERR_NOT_FOUND, closest, n, &stats);
}

/* Sends what each path may send; ends paths, and the lookup when no path is left (lk is
 * freed then). */
static void pump(cordon_core *core, uint64_t now_ms, struct lookup *lk)
{
    size_t k = core->cfg.params.k;
    bool find = lk->kind == LOOKUP_FIND;
    size_t width = find ? 1 : core->cfg.params.alpha;
    bool running = false;
    for (size_t pi = 0; pi < lk->npaths; pi++) {
        struct lookup_path *p = &lk->path[pi];
        if (p->done)
            continue;
        while (p->queries < lk->query_cap) {
            size_t i = next_to_ask(lk, p, k);
            if (i == SIZE_MAX)
                break;
            struct cand *c = &p->cand[i];
            bool target = find && cordon_id_equal(c->c.id, lk->target);
            if (!target && (lk->target_inflight || p->inflight >= width))
                break;
            cordon_err err =
                cordon_rpc_request(core, now_ms, &c->c, CORDON_MSG_FIND_NODE, lk->target,
                                   PURPOSE_LOOKUP, lk->serial, (uint8_t)pi);
            if (err == CORDON_ERR_BUSY) {
                /* The pending table is full; pump_all tries again as requests resolve. */
                core->stalled = true;
                break;
            }
            claim_add(lk, c->c.id, (uint8_t)pi);
            if (err != CORDON_OK) {
                /* Out of memory: nothing may be in flight to wake us, so count the node as
                 * failed rather than wait. */
                lk->stats.failed++;
                cand_drop(p, i);
                continue;
            }
            c->state = CAND_INFLIGHT;
            if (target)
                lk->target_inflight = true;
            p->inflight++;
            p->queries++;
            lk->stats.messages++;
            if (c->depth > lk->stats.rounds)
                lk->stats.rounds = c->depth;
            if (core->query_hook != NULL)
                core->query_hook(core->query_hook_ctx, lk->serial, (unsigned)pi, &c->c);
        }
        bool exhausted = p->queries >= lk->query_cap && p->inflight == 0;
        if (!window_open(p, k) || exhausted)
            p->done = true;
        else
            running = true;
    }
    if (!running)
        finish(core, lk);
}

cordon_err cordon_lookups_start(cordon_core *core, uint64_t now_ms,
                                const uint8_t target[CORDON_NODE_ID_LEN], uint8_t kind,
                                cordon_lookup_cb cb, void *arg)
{
    if (core->nlookups >= CORDON_LOOKUPS_MAX)
        return CORDON_ERR_BUSY;
    size_t slot = 0;
    while (core->lookups[slot] != NULL)
        slot++;
    /* Refresh lookups only fill the table: one path is enough, and it is a quarter of the
     * cost (disjoint paths guard results that someone relies on). */
    size_t k = core->cfg.params.k;
    size_t d = kind == LOOKUP_REFRESH ? 1 : core->cfg.params.disjoint_paths;
    size_t shortlist = CORDON_SHORTLIST_PER_K * k, queries = CORDON_PATH_QUERIES_PER_K * k;
    size_t claims = d * queries + FORGET_CLAIMS;
    size_t bytes =
        sizeof(struct lookup) + d * shortlist * sizeof(struct cand) + claims * sizeof(struct claim);
    struct lookup *lk = calloc(1, bytes);
    if (lk == NULL)
        return CORDON_ERR_NOMEM;
    struct cand *cands = (struct cand *)(lk + 1);
    lk->claims = (struct claim *)(cands + d * shortlist);
    lk->claims_cap = (uint16_t)claims;
    lk->bytes = bytes;
    lk->npaths = (uint16_t)d;
    lk->shortlist_cap = (uint16_t)shortlist;
    lk->query_cap = (uint16_t)queries;
    for (size_t pi = 0; pi < d; pi++)
        lk->path[pi].cand = cands + pi * shortlist;
    if (++core->next_serial == 0)
        core->next_serial = 1;
    lk->serial = core->next_serial;
    lk->kind = kind;
    memcpy(lk->target, target, CORDON_NODE_ID_LEN);
    lk->cb = cb;
    lk->arg = arg;

    struct cordon_contact seeds[CORDON_K_MAX];
    size_t n = cordon_table_closest(core, target, NULL, false, seeds, k);
    for (size_t i = 0; i < n; i++) {
        struct lookup_path *p = &lk->path[i % d];
        p->cand[p->n].c = seeds[i];
        p->cand[p->n].state = CAND_NEW;
        p->cand[p->n].depth = 1;
        p->n++;
    }
    cordon_table_touch(core, now_ms, target);
    core->lookups[slot] = lk;
    core->nlookups++;
    pump(core, now_ms, lk);
    return CORDON_OK;
}

void cordon_lookups_resolved(cordon_core *core, uint64_t now_ms, const struct pending *pd,
                             enum rpc_outcome outcome, const struct cordon_msg *m)
{
    struct lookup *lk = lookup_by_serial(core, pd->lookup);
    if (lk == NULL || pd->path >= lk->npaths)
        return; /* the lookup ended; the answer still refreshed the table */
    struct lookup_path *p = &lk->path[pd->path];
    if (p->inflight > 0)
        p->inflight--;
    if (lk->kind == LOOKUP_FIND && cordon_id_equal(pd->to.id, lk->target))
        lk->target_inflight = false; /* it failed (an answer ends the lookup below) */
    size_t i = cand_index(p, pd->to.id);
    if (outcome == RPC_ANSWERED && m != NULL && m->type == CORDON_MSG_NODES) {
        lk->stats.answered++;
        uint8_t depth = (uint8_t)(lk->stats.rounds < UINT8_MAX ? lk->stats.rounds + 1 : UINT8_MAX);
        if (i != SIZE_MAX) {
            p->cand[i].state = CAND_ANSWERED;
            if (p->cand[i].depth < UINT8_MAX)
                depth = (uint8_t)(p->cand[i].depth + 1);
        }
        if (lk->kind == LOOKUP_FIND && cordon_id_equal(pd->to.id, lk->target)) {
            /* Requests of other paths still in flight find no lookup when they resolve. */
            finish(core, lk);
            return;
        }
        for (size_t j = 0; !p->done && j < m->u.nodes.count && j < CORDON_NODES_MAX; j++) {
            const struct cordon_contact *c = &m->u.nodes.contacts[j];
            if (cordon_id_equal(c->id, core->self.id) || claim_find(lk, c->id) != NULL)
                continue;
            size_t have = cand_index(p, c->id);
            if (have == SIZE_MAX)
                cand_insert(lk, p, c, depth);
            else if (p->cand[have].depth > depth)
                p->cand[have].depth = depth;
        }
    } else {
        lk->stats.failed++;
        if (i != SIZE_MAX)
            cand_drop(p, i);
    }
    pump(core, now_ms, lk);
}

void cordon_lookups_resent(cordon_core *core, const struct pending *pd)
{
    struct lookup *lk = lookup_by_serial(core, pd->lookup);
    if (lk != NULL)
        lk->stats.messages++;
}

void cordon_lookups_forget(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN])
{
    (void)now_ms;
    for (size_t l = 0; l < CORDON_LOOKUPS_MAX; l++) {
        struct lookup *lk = core->lookups[l];
        if (lk == NULL)
            continue;
        if (claim_find(lk, id) == NULL)
            claim_add(lk, id, CLAIM_FORGOTTEN);
        /* A request in flight to it stays counted until cordon_rpc_forget resolves it. */
        for (size_t pi = 0; pi < lk->npaths; pi++) {
            size_t i = cand_index(&lk->path[pi], id);
            if (i != SIZE_MAX)
                cand_drop(&lk->path[pi], i);
        }
    }
}

void cordon_lookups_pump_all(cordon_core *core, uint64_t now_ms)
{
    core->stalled = false;
    for (size_t l = 0; l < CORDON_LOOKUPS_MAX; l++)
        if (core->lookups[l] != NULL)
            pump(core, now_ms, core->lookups[l]);
}

size_t cordon_lookups_memory(const cordon_core *core)
{
    size_t bytes = 0;
    for (size_t l = 0; l < CORDON_LOOKUPS_MAX; l++)
        if (core->lookups[l] != NULL)
            bytes += core->lookups[l]->bytes;
    return bytes;
}

void cordon_lookups_free(cordon_core *core)
{
    for (size_t l = 0; l < CORDON_LOOKUPS_MAX; l++) {
        free(core->lookups[l]);
        core->lookups[l] = NULL;
    }
    core->nlookups = 0;
}
