/*
 * peer/core/table.c — the routing table: one k-bucket per common-prefix length with self
 * (0..255), each allocated when its first contact arrives and grown up to k entries.
 *
 * Admission follows Kademlia's long-lived preference, hardened after S/Kademlia:
 *   - only nodes that sent an accepted message get in (cordon_table_seen is called by the
 *     message path only; contacts named in NODES answers never come here);
 *   - a full bucket keeps its residents: the newcomer waits in the bucket's replacement
 *     slot and the least-recently-seen resident is pinged; it is replaced only when it has
 *     failed fail_evict times in a row (timeouts, link failures);
 *   - at most per_prefix_contacts residents per IP prefix per bucket;
 *   - the churn limiter may refuse an evicted ID that keeps coming back.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/core/internal.h"

#define BUCKET_FIRST_CAP 4

static size_t bucket_bytes(size_t cap)
{
    return sizeof(struct bucket) + cap * sizeof(struct table_entry);
}

static bool addr_equal(const struct cordon_addr *a, const struct cordon_addr *b)
{
    size_t len = a->family == 4 ? 4 : 16;
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, len) == 0;
}

/* Residents of bk in the same IP prefix as addr, leaving out entry `skip`. */
static size_t prefix_count(const cordon_core *core, const struct bucket *bk,
                           const struct cordon_addr *addr, size_t skip)
{
    size_t n = 0;
    if (bk == NULL)
        return 0;
    for (size_t i = 0; i < bk->n; i++)
        if (i != skip &&
            cordon_addr_same_prefix(&bk->e[i].c.addr, addr, core->cfg.params.prefix_limit_v4,
                                    core->cfg.params.prefix_limit_v6))
            n++;
    return n;
}

/* Bucket b with room for one more entry (allocated or grown as needed), or NULL. */
static struct bucket *bucket_room(cordon_core *core, uint64_t now_ms, unsigned b)
{
    struct bucket *bk = core->buckets[b];
    size_t k = core->cfg.params.k;
    if (bk != NULL && bk->n < bk->cap)
        return bk;
    if (bk != NULL && bk->cap >= k)
        return NULL;
    size_t old_cap = bk == NULL ? 0 : bk->cap;
    size_t cap = bk == NULL ? BUCKET_FIRST_CAP : old_cap * 2;
    if (cap > k)
        cap = k;
    struct bucket *grown = realloc(bk, bucket_bytes(cap));
    if (grown == NULL)
        return NULL;
    if (bk == NULL) {
        memset(grown, 0, sizeof(*grown));
        grown->last_active_ms = now_ms;
        core->buckets_used++;
    }
    grown->cap = (uint16_t)cap;
    core->table_bytes += bucket_bytes(cap) - (old_cap == 0 ? 0 : bucket_bytes(old_cap));
    core->buckets[b] = grown;
    return grown;
}

static void bucket_release(cordon_core *core, unsigned b)
{
    struct bucket *bk = core->buckets[b];
    core->table_bytes -= bucket_bytes(bk->cap);
    core->buckets_used--;
    free(bk);
    core->buckets[b] = NULL;
}

static size_t entry_index(const struct bucket *bk, const uint8_t id[CORDON_NODE_ID_LEN])
{
    for (size_t i = 0; bk != NULL && i < bk->n; i++)
        if (cordon_id_equal(bk->e[i].c.id, id))
            return i;
    return SIZE_MAX;
}

struct table_entry *cordon_table_find(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN])
{
    unsigned b = cordon_id_cpl(core->self.id, id);
    if (b >= CORDON_ID_BITS)
        return NULL;
    size_t i = entry_index(core->buckets[b], id);
    return i == SIZE_MAX ? NULL : &core->buckets[b]->e[i];
}

static uint16_t sat16(uint64_t v)
{
    return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

void cordon_table_rtt(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN], uint64_t sample_ms)
{
    struct table_entry *e = cordon_table_find(core, id);
    if (e == NULL)
        return;
    uint64_t r = sample_ms > UINT16_MAX ? UINT16_MAX : sample_ms;
    if (!e->has_rtt) { /* RFC 6298 2.2: SRTT = R, RTTVAR = R / 2 */
        e->has_rtt = true;
        e->srtt8 = sat16(8 * r);
        e->rttvar4 = sat16(2 * r);
        return;
    }
    /* 2.3: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, then SRTT = 7/8 SRTT + 1/8 R, in the
     * scaled integers of Jacobson's code. */
    uint64_t srtt = e->srtt8 / 8;
    uint64_t dev = srtt > r ? srtt - r : r - srtt;
    e->rttvar4 = sat16(e->rttvar4 - e->rttvar4 / 4 + dev);
    e->srtt8 = sat16(e->srtt8 - e->srtt8 / 8 + r);
}

uint32_t cordon_table_watch_timeout(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN])
{
    const struct table_entry *e = cordon_table_find(core, id);
    uint64_t t = core->cfg.rpc_timeout_ms;
    if (e != NULL && e->has_rtt) {
        uint64_t rto = (uint64_t)e->srtt8 / 8 + (e->rttvar4 > 0 ? e->rttvar4 : 1u);
        if (rto < t)
            t = rto;
    }
    return t < core->cfg.watch_timeout_min_ms ? core->cfg.watch_timeout_min_ms : (uint32_t)t;
}

/* Pings the least-recently-seen resident of a full bucket: its answer keeps it, its
 * failure counts towards its eviction and lets the waiting newcomer in. A resident heard
 * from within check_quiet_ms is presumed alive, so a busy bucket is not pinged for every
 * newcomer that knocks. */
static void check_oldest(cordon_core *core, uint64_t now_ms, unsigned b)
{
    struct bucket *bk = core->buckets[b];
    size_t oldest = 0;
    for (size_t i = 1; i < bk->n; i++)
        if (bk->e[i].last_seen_ms < bk->e[oldest].last_seen_ms)
            oldest = i;
    if (bk->e[oldest].last_seen_ms + core->cfg.check_quiet_ms > now_ms)
        return;
    struct cordon_contact to = bk->e[oldest].c;
    if (cordon_rpc_request(core, now_ms, &to, CORDON_MSG_PING, NULL, PURPOSE_CHECK, 0, 0) ==
        CORDON_OK)
        core->buckets[b]->check_pending = true;
}

void cordon_table_seen(cordon_core *core, uint64_t now_ms, const struct cordon_contact *c)
{
    unsigned b = cordon_id_cpl(core->self.id, c->id);
    if (b >= CORDON_ID_BITS)
        return; /* ourselves */
    if ((c->addr.family != 4 && c->addr.family != 6) || c->addr.port == 0)
        return; /* the host gave an address no NODES answer could carry */
    struct bucket *bk = core->buckets[b];
    size_t i = entry_index(bk, c->id);
    if (i != SIZE_MAX) {
        struct table_entry *e = &bk->e[i];
        e->last_seen_ms = now_ms;
        e->fails = 0;
        bk->last_active_ms = now_ms;
        /* A proven node that moved keeps its place if its new prefix has room. */
        if (!addr_equal(&e->c.addr, &c->addr) &&
            prefix_count(core, bk, &c->addr, i) < core->cfg.params.per_prefix_contacts)
            e->c.addr = c->addr;
        return;
    }
    if (prefix_count(core, bk, &c->addr, SIZE_MAX) >= core->cfg.params.per_prefix_contacts) {
        core->st.refused_prefix++;
        return;
    }
    if (bk != NULL && bk->n >= core->cfg.params.k) {
        core->st.refused_full++;
        bk->repl = *c;
        bk->has_repl = true;
        if (!bk->check_pending)
            check_oldest(core, now_ms, b);
        return;
    }
    if (!cordon_churn_admit(core, now_ms, c->id))
        return;
    bk = bucket_room(core, now_ms, b);
    if (bk == NULL)
        return; /* out of memory: the node stays a stranger */
    if (bk->has_repl && cordon_id_equal(bk->repl.id, c->id))
        bk->has_repl = false;
    memset(&bk->e[bk->n], 0, sizeof(bk->e[bk->n]));
    bk->e[bk->n].last_seen_ms = now_ms;
    bk->e[bk->n].c = *c;
    bk->n++;
    bk->last_active_ms = now_ms;
    core->table_size++;
}

/* Entry i of bucket b leaves; the newcomer waiting in the replacement slot, if any, takes
 * its place (it proved itself when it wrote to us, and still passes every check). */
static void entry_leave(cordon_core *core, uint64_t now_ms, unsigned b, size_t i)
{
    struct bucket *bk = core->buckets[b];
    bk->e[i] = bk->e[bk->n - 1];
    bk->n--;
    core->table_size--;
    bool promote = bk->has_repl;
    struct cordon_contact repl = bk->repl;
    bk->has_repl = false;
    if (bk->n == 0)
        bucket_release(core, b);
    if (promote)
        cordon_table_seen(core, now_ms, &repl);
}

void cordon_table_failed(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN])
{
    unsigned b = cordon_id_cpl(core->self.id, id);
    if (b >= CORDON_ID_BITS)
        return;
    struct bucket *bk = core->buckets[b];
    size_t i = entry_index(bk, id);
    if (i == SIZE_MAX)
        return;
    if (bk->e[i].fails < UINT8_MAX && bk->e[i].fails++ == 0) {
        core->maint_suspects++; /* it may have been a replica: maintenance looks soon */
        cordon_maint_suspect(core, now_ms, id);
    }
    if (bk->e[i].fails < core->cfg.fail_evict)
        return;
    core->st.evictions++;
    cordon_churn_evicted(core, now_ms, id);
    entry_leave(core, now_ms, b, i);
}

bool cordon_table_remove(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN])
{
    unsigned b = cordon_id_cpl(core->self.id, id);
    if (b >= CORDON_ID_BITS || core->buckets[b] == NULL)
        return false;
    struct bucket *bk = core->buckets[b];
    if (bk->has_repl && cordon_id_equal(bk->repl.id, id))
        bk->has_repl = false;
    size_t i = entry_index(bk, id);
    if (i == SIZE_MAX)
        return false;
    entry_leave(core, now_ms, b, i);
    return true;
}

/* Inserts the contacts of one bucket into the sorted prefix out[0..*n), keeping max. */
static void closest_from(const struct bucket *bk, const uint8_t target[CORDON_NODE_ID_LEN],
                         const uint8_t *exclude, bool healthy_only, struct cordon_contact *out,
                         size_t max, size_t *n)
{
    for (size_t i = 0; bk != NULL && i < bk->n; i++) {
        const struct cordon_contact *c = &bk->e[i].c;
        if ((healthy_only && bk->e[i].fails > 0) ||
            (exclude != NULL && cordon_id_equal(c->id, exclude)))
            continue;
        size_t at = *n;
        while (at > 0 && cordon_id_distance_cmp(target, c->id, out[at - 1].id) < 0)
            at--;
        if (at >= max)
            continue;
        size_t last = *n < max ? *n : max - 1;
        memmove(&out[at + 1], &out[at], (last - at) * sizeof(*out));
        out[at] = *c;
        if (*n < max)
            (*n)++;
    }
}

/* The XOR metric orders whole buckets: with t the prefix length target shares with us,
 * bucket t holds the closest contacts, then buckets t+1.. (all at distance 2^(255-t) and
 * more), then t-1, t-2, ... 0, each farther than the one before. So the walk stops at the
 * first group boundary where max contacts are in hand: a few buckets, not the table. */
size_t cordon_table_closest(const cordon_core *core, const uint8_t target[CORDON_NODE_ID_LEN],
                            const uint8_t *exclude, bool healthy_only, struct cordon_contact *out,
                            size_t max)
{
    size_t n = 0;
    unsigned t = cordon_id_cpl(core->self.id, target);
    if (max == 0)
        return 0;
    if (t < CORDON_ID_BITS) {
        closest_from(core->buckets[t], target, exclude, healthy_only, out, max, &n);
        if (n >= max)
            return n;
        for (unsigned b = t + 1; b < CORDON_ID_BITS; b++)
            closest_from(core->buckets[b], target, exclude, healthy_only, out, max, &n);
    }
    for (unsigned b = t < CORDON_ID_BITS ? t : CORDON_ID_BITS; b-- > 0 && n < max;)
        closest_from(core->buckets[b], target, exclude, healthy_only, out, max, &n);
    return n;
}

void cordon_table_touch(cordon_core *core, uint64_t now_ms,
                        const uint8_t target[CORDON_NODE_ID_LEN])
{
    unsigned b = cordon_id_cpl(core->self.id, target);
    if (b < CORDON_ID_BITS && core->buckets[b] != NULL)
        core->buckets[b]->last_active_ms = now_ms;
}

void cordon_table_check_done(cordon_core *core, unsigned b)
{
    if (b < CORDON_ID_BITS && core->buckets[b] != NULL)
        core->buckets[b]->check_pending = false;
}

void cordon_table_free(cordon_core *core)
{
    for (unsigned b = 0; b < CORDON_ID_BITS; b++) {
        free(core->buckets[b]);
        core->buckets[b] = NULL;
    }
    core->table_size = core->buckets_used = core->table_bytes = 0;
}
