/* sim/sim.c — see sim.h. */
#include "sim/sim.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peer/core/core.h"
#include "sim/objects.h"
#include "wire/msg.h"
#include "wire/object.h"

enum ev_type {
    EV_DELIVER = 1, /* a = from, b = to, msg */
    EV_LINKFAIL,    /* a = the sender told; msg = the contact it tried */
    EV_TICK,        /* a = node, gen */
    EV_JOIN,        /* a = node */
    EV_ATTACK,      /* adversaries switch on; lookups begin */
    EV_LOOKUP,      /* a = lookup number */
    EV_CHURN,
    EV_FLOOD, /* a = flooder */
    EV_FLAP,  /* a = flapper */
    EV_PUT,   /* a = put number */
    EV_READ,  /* a = read number */
    EV_ROUND, /* a = check number: a churn round ends (or, 0, the first begins) */
    EV_REPLACE,
};

struct event {
    uint64_t at;
    uint64_t seq;
    uint64_t gen;
    uint32_t a, b;
    uint8_t type;
    uint32_t len; /* up to CORDON_MSG_STORAGE_MAX */
    uint8_t *msg; /* owned by the event, len bytes on the heap: a big message costs only
                     its own event */
};

struct node {
    struct cordon_contact self;
    cordon_core *core;
    uint8_t kind;
    bool alive;
    bool started;
    bool cut; /* on the far side of the partition */
    uint32_t running_lookups;
    uint64_t timer_at;
    uint64_t timer_gen;
    uint32_t victims[4];      /* a flooder's targets, chosen when the attack starts */
    struct sim_store store;   /* outlives crashes of the core, as a disk would */
    struct sim_identity *idt; /* key and certificate, issued when the node first writes */
};

/* An object of the storage workload: one owned name of one writer. */
struct object {
    uint32_t writer;
    char name[32];
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN]; /* resource ID || zeros */
    int32_t newest;                           /* the accepted put of the highest seq, or -1 */
};

struct put {
    struct sim *sim;
    uint32_t object;
    uint64_t seq;
    cordon_buf obj; /* the signed object as its writer made it */
};

struct read {
    struct sim *sim;
    uint32_t origin;
    int32_t expect; /* the put whose object is the right answer */
    uint32_t check; /* the churn check that started it (0 without churn rounds) */
};

/* An object's entry key and number, for the churn checks' count of copies. */
struct key_index {
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint32_t object;
};

struct lookup {
    struct sim *sim;
    uint32_t origin;
    uint8_t target[CORDON_NODE_ID_LEN];
    uint8_t truth[CORDON_NODE_ID_LEN]; /* the live honest node closest to target at start */
    bool done, ok;
    uint32_t hops, rounds, messages;
};

struct sim;
struct host_ctx {
    struct sim *s;
    uint32_t idx;
};

struct sim {
    const struct cordon_sim_config *cfg;
    struct cordon_core_config core_cfg;
    uint64_t rng[4];
    uint64_t now;
    uint64_t seq;
    uint64_t digest;
    uint64_t events;
    uint64_t delivered;
    bool attack;
    uint64_t attack_at;

    struct node *nodes;
    struct host_ctx *hosts; /* one per node, stable for the whole run */
    uint32_t n_nodes, cap_nodes;
    uint32_t *addr_slots; /* open addressing: IPv4 address -> node index + 1 */
    size_t addr_mask;
    uint32_t *eclipsers;
    uint32_t n_eclipsers;

    struct event *heap;
    size_t heap_len, heap_cap;

    struct lookup *lookups;
    uint32_t lookups_started, lookups_done;
    uint32_t crashed, joined_late; /* churn */
    cordon_err failure;            /* first internal failure (out of memory); stops the run */

    /* storage */
    bool storage;
    struct sim_ca ca;
    struct object *objects;
    struct put *puts;
    struct read *reads;
    uint32_t puts_total, puts_ended, reads_total, reads_ended;
    struct cordon_sim_result st; /* the storage counters of the result */
    bool adversaries;            /* some node is not honest: reads count captured objects */

    /* churn rounds */
    bool rounds;
    uint64_t rounds_at; /* when the first began */
    uint32_t *victims;  /* this round's candidates, in a seeded random order */
    uint32_t n_victims, next_victim;
    struct key_index *by_key; /* the objects sorted by entry key */
    uint32_t *copies;         /* per object, at the last check */
};

/* ---- determinism: one generator, one digest ---------------------------------------------- */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct sim *s)
{
    uint64_t *r = s->rng;
    uint64_t out = rotl(r[1] * 5, 7) * 9;
    uint64_t t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 45);
    return out;
}

static void rng_seed(struct sim *s, uint64_t seed)
{
    for (int i = 0; i < 4; i++) { /* splitmix64 */
        seed += 0x9e3779b97f4a7c15ULL;
        uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        s->rng[i] = z ^ (z >> 31);
    }
}

static uint32_t rng_below(struct sim *s, uint32_t n)
{
    return (uint32_t)((rng_next(s) >> 32) * (uint64_t)n >> 32);
}

static double rng_unit(struct sim *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static void rng_bytes(struct sim *s, void *out, size_t n)
{
    uint8_t *p = out;
    while (n > 0) {
        uint64_t v = rng_next(s);
        size_t take = n < 8 ? n : 8;
        memcpy(p, &v, take);
        p += take;
        n -= take;
    }
}

static void fold(struct sim *s, uint64_t v)
{
    s->digest = (s->digest ^ v) * 0x100000001b3ULL;
    s->digest ^= s->digest >> 29;
}

static void fold_bytes(struct sim *s, const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    fold(s, h);
}

/* What a message says, for the digest. A STORE or an OBJECT carries an object whose
 * certificate and signature come from keys drawn by OpenSSL, not by the seed: they are left
 * out, and everything else the object says (entry, seq, times, value) is folded. */
static void fold_msg(struct sim *s, const uint8_t *msg, size_t len)
{
    struct cordon_msg m;
    struct cordon_object o;
    const uint8_t *obj = NULL;
    size_t obj_len = 0;
    if (!s->storage || cordon_msg_decode(msg, len, &m) != CORDON_OK) {
        fold_bytes(s, msg, len);
        return;
    }
    if (m.type == CORDON_MSG_STORE) {
        obj = m.u.store.object;
        obj_len = m.u.store.len;
    } else if (m.type == CORDON_MSG_OBJECT && m.u.object.found) {
        obj = m.u.object.object;
        obj_len = m.u.object.len;
    }
    if (obj == NULL || cordon_object_decode(obj, obj_len, &o) != CORDON_OK) {
        fold_bytes(s, msg, len);
        return;
    }
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    cordon_object_entry_key(&o, key);
    fold(s, (uint64_t)m.type << 40 | (uint64_t)m.flags << 32 | m.txid);
    fold_bytes(s, key, sizeof(key));
    fold(s, o.seq);
    fold(s, o.created_at ^ (uint64_t)o.lifetime << 40 ^ (uint64_t)o.kind << 60);
    fold_bytes(s, o.value, o.value_len);
}

/* ---- the event queue: a binary heap ordered by (at, seq) ----------------------------------- */

static bool before(const struct event *x, const struct event *y)
{
    return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static void push(struct sim *s, struct event ev)
{
    if (s->heap_len == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 4096;
        struct event *h = realloc(s->heap, cap * sizeof(*h));
        if (h == NULL) {
            free(ev.msg);
            s->failure = CORDON_ERR_NOMEM;
            return;
        }
        s->heap = h;
        s->heap_cap = cap;
    }
    ev.seq = s->seq++;
    size_t i = s->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&ev, &s->heap[parent]))
            break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = ev;
}

static struct event pop(struct sim *s)
{
    struct event top = s->heap[0];
    struct event last = s->heap[--s->heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_len)
            break;
        if (c + 1 < s->heap_len && before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_len > 0)
        s->heap[i] = last;
    return top;
}

static void schedule(struct sim *s, uint64_t at, uint8_t type, uint32_t a, uint32_t b)
{
    struct event ev = {.at = at, .type = type, .a = a, .b = b};
    push(s, ev);
}

/* ---- nodes and the virtual network --------------------------------------------------------- */

static uint32_t addr_key(const struct cordon_addr *addr)
{
    return (uint32_t)addr->ip[0] << 24 | (uint32_t)addr->ip[1] << 16 | (uint32_t)addr->ip[2] << 8 |
           addr->ip[3];
}

static int node_at(const struct sim *s, const struct cordon_addr *addr)
{
    if (addr->family != 4)
        return -1;
    uint32_t key = addr_key(addr);
    for (size_t i = (key * 2654435761u) & s->addr_mask;; i = (i + 1) & s->addr_mask) {
        uint32_t slot = s->addr_slots[i];
        if (slot == 0)
            return -1;
        if (addr_key(&s->nodes[slot - 1].self.addr) == key)
            return (int)(slot - 1);
    }
}

static void addr_insert(struct sim *s, uint32_t idx)
{
    uint32_t key = addr_key(&s->nodes[idx].self.addr);
    size_t i = (key * 2654435761u) & s->addr_mask;
    while (s->addr_slots[i] != 0)
        i = (i + 1) & s->addr_mask;
    s->addr_slots[i] = idx + 1;
}

static uint64_t latency(struct sim *s)
{
    const struct cordon_sim_config *c = s->cfg;
    uint32_t span = c->latency_max_ms - c->latency_min_ms;
    return c->latency_min_ms + (span ? rng_below(s, span + 1) : 0);
}

static bool partitioned(const struct sim *s, const struct node *a, const struct node *b)
{
    const struct cordon_sim_config *c = s->cfg;
    if (c->partition_share <= 0 || !s->attack || a->cut == b->cut)
        return false;
    uint64_t t = s->now - s->attack_at;
    return t >= c->partition_start_ms && t < c->partition_end_ms;
}

/* Sends from node `from` to the contact `to`, as the runtime's link layer would. */
static void net_send(struct sim *s, uint32_t from, const struct cordon_contact *to,
                     const uint8_t *msg, size_t len)
{
    int dst = node_at(s, &to->addr);
    struct node *src = &s->nodes[from];
    if (dst < 0 || !s->nodes[dst].alive || !s->nodes[dst].started)
        return; /* nobody answers: the sender times out */
    struct node *d = &s->nodes[dst];
    if (partitioned(s, src, d))
        return;
    if (len > CORDON_MSG_STORAGE_MAX) {
        s->failure = CORDON_ERR_TOO_LARGE; /* no core sends that: a bug */
        return;
    }
    if (memcmp(d->self.id, to->id, CORDON_NODE_ID_LEN) != 0) {
        /* The handshake proves another ID: the link fails. */
        struct event ev = {.at = s->now + 2 * latency(s), .type = EV_LINKFAIL, .a = from};
        ev.msg = malloc(sizeof(*to));
        if (ev.msg == NULL) {
            s->failure = CORDON_ERR_NOMEM;
            return;
        }
        memcpy(ev.msg, to, sizeof(*to));
        ev.len = sizeof(*to);
        push(s, ev);
        return;
    }
    if (s->cfg->loss > 0 && rng_unit(s) < s->cfg->loss)
        return;
    struct event ev = {.at = s->now + latency(s),
                       .type = EV_DELIVER,
                       .a = from,
                       .b = (uint32_t)dst,
                       .len = (uint32_t)len};
    ev.msg = malloc(len ? len : 1);
    if (ev.msg == NULL) {
        s->failure = CORDON_ERR_NOMEM;
        return;
    }
    memcpy(ev.msg, msg, len);
    push(s, ev);
}

static void host_send(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len)
{
    struct host_ctx *h = ctx;
    net_send(h->s, h->idx, to, msg, len);
}

static void host_random(void *ctx, void *out, size_t n)
{
    struct host_ctx *h = ctx;
    rng_bytes(h->s, out, n);
}

static void reschedule(struct sim *s, uint32_t idx)
{
    struct node *n = &s->nodes[idx];
    if (!n->alive || n->core == NULL)
        return;
    uint64_t d = cordon_core_next_deadline(n->core);
    if (d == UINT64_MAX || d >= n->timer_at)
        return;
    n->timer_at = d < s->now ? s->now : d;
    struct event ev = {.at = n->timer_at, .type = EV_TICK, .a = idx, .gen = ++n->timer_gen};
    push(s, ev);
}

static cordon_err start_core(struct sim *s, uint32_t idx)
{
    struct node *n = &s->nodes[idx];
    struct cordon_core_host host = {
        .ctx = &s->hosts[idx], .send = host_send, .random = host_random};
    cordon_err err = cordon_core_new(&s->core_cfg, &n->self, &host, &n->core);
    if (err != CORDON_OK)
        return err;
    if (s->storage) {
        struct cordon_core_storage storage = sim_store_storage(&n->store, s->cfg->maintain);
        n->store.ca = &s->ca;
        err = cordon_core_set_storage(n->core, &storage);
        if (err != CORDON_OK)
            return err;
    }
    n->alive = true;
    n->started = true;
    n->timer_at = UINT64_MAX;
    /* Bootstrap from a few nodes already up (the first node has none). */
    struct cordon_contact boot[8];
    size_t nb = 0;
    uint32_t want = s->cfg->bootstrap < 8 ? s->cfg->bootstrap : 8;
    /* While the overlay forms, the nodes before this one are the ones up; afterwards any
     * node may be (crashed ones are skipped). */
    uint32_t range = s->attack ? s->n_nodes : idx;
    for (uint32_t tries = 0; range > 0 && nb < want && tries < 64; tries++) {
        uint32_t j = rng_below(s, range);
        if (j == idx || !s->nodes[j].alive || !s->nodes[j].started)
            continue;
        boot[nb++] = s->nodes[j].self;
    }
    err = cordon_core_join(n->core, s->now, boot, nb);
    reschedule(s, idx);
    return err;
}

/* The storage and maintenance counters of an honest core go into the result when it stops
 * (a node that left takes its counters with it) or at the end of the run. */
static void count_core(struct sim *s, const struct node *n)
{
    struct cordon_core_status st;
    if (n->core == NULL || n->kind != CORDON_SIM_HONEST)
        return;
    cordon_core_status(n->core, &st);
    s->st.get_stale += st.get_stale;
    s->st.get_forged += st.get_forged;
    s->st.stores_accepted += st.stores_accepted;
    s->st.maintain_passes += st.maintain_passes;
    s->st.summaries_sent += st.summaries_sent;
    s->st.summaries_served += st.summaries_served;
    s->st.maintain_pushed += st.maintain_pushed;
    s->st.maintain_accepted += st.maintain_accepted;
    s->st.maintain_retargeted += st.maintain_retargeted;
    s->st.maintain_watched += st.maintain_watched;
    s->st.maintain_watch_failed += st.maintain_watch_failed;
}

static void stop_core(struct sim *s, uint32_t idx)
{
    struct node *n = &s->nodes[idx];
    count_core(s, n);
    cordon_core_free(n->core);
    n->core = NULL;
    n->alive = false;
    n->timer_gen++;
    n->timer_at = UINT64_MAX;
}

/* ---- adversaries ------------------------------------------------------------------------ */

static int closer(const uint8_t *target, const uint8_t *a, const uint8_t *b)
{
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++) {
        uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

/* An eclipser answers FIND_NODE with the colluders closest to the target: the best a
 * coalition with server-assigned IDs can do. */
static void eclipse_answer(struct sim *s, uint32_t self, uint32_t to, const struct cordon_msg *req)
{
    struct cordon_msg ans;
    uint8_t buf[CORDON_MSG_MAX];
    size_t len;
    memset(&ans, 0, sizeof(ans));
    ans.flags = CORDON_MSG_FLAG_RESPONSE;
    ans.txid = req->txid;
    if (req->type == CORDON_MSG_PING) {
        ans.type = CORDON_MSG_PONG;
    } else if (req->type == CORDON_MSG_FIND_NODE) {
        ans.type = CORDON_MSG_NODES;
        uint32_t want = s->cfg->k < CORDON_NODES_MAX ? s->cfg->k : CORDON_NODES_MAX;
        uint32_t best[CORDON_NODES_MAX];
        uint32_t n = 0;
        const uint8_t *target = req->u.find_node.target;
        for (uint32_t i = 0; i < s->n_eclipsers; i++) { /* insertion into a sorted top-k */
            uint32_t e = s->eclipsers[i];
            if (e == self || !s->nodes[e].alive)
                continue;
            uint32_t pos = n < want ? n : want;
            while (pos > 0 &&
                   closer(target, s->nodes[e].self.id, s->nodes[best[pos - 1]].self.id) < 0)
                pos--;
            if (pos >= want)
                continue;
            uint32_t end = n < want ? n : want - 1;
            memmove(&best[pos + 1], &best[pos], (end - pos) * sizeof(best[0]));
            best[pos] = e;
            if (n < want)
                n++;
        }
        ans.u.nodes.count = (uint8_t)n;
        for (uint32_t i = 0; i < n; i++)
            ans.u.nodes.contacts[i] = s->nodes[best[i]].self;
    } else {
        return;
    }
    if (cordon_msg_encode(&ans, buf, sizeof(buf), &len) == CORDON_OK)
        net_send(s, self, &s->nodes[to].self, buf, len);
}

/* A flooder sends FIND_NODE requests for random targets to a few victims, far above the
 * per-node routing budget (spread over every node, a flood would stay under each node's
 * limit and cost nothing to stop). */
static void flood_once(struct sim *s, uint32_t self)
{
    struct cordon_msg req;
    uint8_t buf[CORDON_MSG_MAX];
    size_t len;
    uint32_t to = s->nodes[self].victims[rng_below(s, 4)];
    if (to == self || !s->nodes[to].alive || !s->nodes[to].started)
        return;
    memset(&req, 0, sizeof(req));
    req.type = CORDON_MSG_FIND_NODE;
    req.txid = (uint32_t)rng_next(s);
    rng_bytes(s, req.u.find_node.target, CORDON_NODE_ID_LEN);
    if (cordon_msg_encode(&req, buf, sizeof(buf), &len) == CORDON_OK)
        net_send(s, self, &s->nodes[to].self, buf, len);
}

/* ---- lookups ----------------------------------------------------------------------------- */

static bool honest_live(const struct node *n)
{
    return n->kind == CORDON_SIM_HONEST && n->alive && n->started;
}

static void lookup_done(void *arg, cordon_err result, const struct cordon_contact *closest,
                        size_t n, const struct cordon_lookup_stats *stats)
{
    struct lookup *l = arg;
    struct sim *s = l->sim;
    l->done = true;
    s->lookups_done++;
    s->nodes[l->origin].running_lookups--;
    l->hops = stats->hops;
    l->rounds = stats->rounds;
    l->messages = stats->messages;
    l->ok = false;
    if (result == CORDON_OK)
        for (size_t i = 0; i < n; i++)
            if (memcmp(closest[i].id, l->truth, CORDON_NODE_ID_LEN) == 0)
                l->ok = true;
}

static void start_lookup(struct sim *s, uint32_t number)
{
    struct lookup *l = &s->lookups[number];
    uint32_t origin = 0;
    bool found = false;
    for (int tries = 0; tries < 1000 && !found; tries++) {
        origin = rng_below(s, s->n_nodes);
        found = honest_live(&s->nodes[origin]) && !s->nodes[origin].cut;
    }
    if (!found) {
        s->failure = CORDON_ERR_NOT_FOUND;
        return;
    }
    l->sim = s;
    l->origin = origin;
    rng_bytes(s, l->target, CORDON_NODE_ID_LEN);
    /* The truth: the live honest node closest to the target at the start, other than the
     * origin (which never names itself in its own results). */
    int best = -1;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        if (!honest_live(&s->nodes[i]) || i == origin)
            continue;
        if (best < 0 || closer(l->target, s->nodes[i].self.id, s->nodes[best].self.id) < 0)
            best = (int)i;
    }
    memcpy(l->truth, s->nodes[best].self.id, CORDON_NODE_ID_LEN);
    s->nodes[origin].running_lookups++;
    s->lookups_started++;
    cordon_err err = cordon_core_lookup(s->nodes[origin].core, s->now, l->target, lookup_done, l);
    if (err != CORDON_OK) {
        /* Too many lookups at that node: count it as a failure, as a user would see it. */
        s->nodes[origin].running_lookups--;
        l->done = true;
        l->ok = false;
        s->lookups_done++;
    }
    reschedule(s, origin);
}

/* ---- storage ----------------------------------------------------------------------------- */

#define OBJECT_LIFETIME 86400 /* seconds: longer than any run */
#define READS_AFTER_MS 1000   /* from the end of the last put to the first get */

static bool storage_done(const struct sim *s)
{
    return !s->storage || (s->puts_ended >= s->puts_total && s->reads_ended >= s->reads_total &&
                           (!s->rounds || s->st.checks_done > s->cfg->churn_rounds));
}

/* Anything left to run: the adversaries' and churn's events stop with it. */
static bool work_left(const struct sim *s)
{
    return s->lookups_done < s->cfg->lookups || !storage_done(s);
}

/* A random live honest node on this side of any partition (writers and readers). */
static int honest_origin(struct sim *s)
{
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t i = rng_below(s, s->n_nodes);
        if (honest_live(&s->nodes[i]) && !s->nodes[i].cut)
            return (int)i;
    }
    return -1;
}

/* The gets numbered first.. first + cfg->reads - 1, one every read_interval_ms from at. */
static void schedule_reads(struct sim *s, uint64_t at, uint32_t first)
{
    for (uint32_t i = 0; i < s->cfg->reads; i++)
        schedule(s, at + (uint64_t)i * s->cfg->read_interval_ms, EV_READ, first + i, 0);
}

static void put_ended(struct sim *s)
{
    if (++s->puts_ended < s->puts_total)
        return;
    if (s->rounds)
        schedule(s, s->now + READS_AFTER_MS, EV_ROUND, 0, 0);
    else
        schedule_reads(s, s->now + READS_AFTER_MS, 0);
}

static void put_done(void *arg, cordon_err result, const struct cordon_put_result *res)
{
    struct put *p = arg;
    struct sim *s = p->sim;
    struct object *o = &s->objects[p->object];
    (void)res;
    s->nodes[o->writer].running_lookups--;
    fold(s, (uint64_t)result << 32 | (uint32_t)(p - s->puts));
    if (result == CORDON_OK) {
        s->st.puts_ok++;
        if (o->newest < 0 || s->puts[o->newest].seq < p->seq)
            o->newest = (int32_t)(p - s->puts);
    }
    put_ended(s);
}

/* Put number `number`: version number / objects + 1 of object number % objects, so every
 * object has its first version out before any gets its second. */
static void start_put(struct sim *s, uint32_t number)
{
    struct put *p = &s->puts[number];
    struct object *o = &s->objects[number % s->cfg->objects];
    p->sim = s;
    p->object = number % s->cfg->objects;
    p->seq = number / s->cfg->objects + 1;
    if (p->seq == 1) {
        int w = honest_origin(s);
        if (w < 0) {
            s->failure = CORDON_ERR_NOT_FOUND;
            return;
        }
        o->writer = (uint32_t)w;
        snprintf(o->name, sizeof(o->name), "object-%u", p->object);
        cordon_object_resource_id(CORDON_KIND_OWNED, SIM_OVERLAY, s->nodes[w].self.id,
                                  (const uint8_t *)o->name, strlen(o->name), o->key);
        memset(o->key + CORDON_NODE_ID_LEN, 0, CORDON_NODE_ID_LEN);
    }
    struct node *w = &s->nodes[o->writer];
    if (!w->alive || w->core == NULL) {
        put_ended(s); /* the writer crashed (churn): its update is never made */
        return;
    }
    cordon_err err = CORDON_OK;
    if (w->idt == NULL) {
        w->idt = calloc(1, sizeof(*w->idt));
        err = w->idt == NULL ? CORDON_ERR_NOMEM : sim_identity_issue(&s->ca, w->self.id, w->idt);
        if (err != CORDON_OK) {
            free(w->idt);
            w->idt = NULL;
        }
    }
    uint8_t *value = malloc(s->cfg->value_size);
    if (value == NULL)
        err = CORDON_ERR_NOMEM;
    if (err == CORDON_OK) {
        rng_bytes(s, value, s->cfg->value_size);
        cordon_buf_init(&p->obj, CORDON_OBJECT_MAX, false);
        err = sim_object_sign(w->idt, w->self.id, o->name, p->seq, sim_unix(s->now),
                              OBJECT_LIFETIME, value, s->cfg->value_size, &p->obj);
    }
    free(value);
    if (err != CORDON_OK) {
        s->failure = err;
        return;
    }
    s->st.puts++;
    w->running_lookups++;
    err = cordon_core_put(w->core, s->now, p->obj.data, p->obj.len, put_done, p);
    if (err != CORDON_OK) {
        w->running_lookups--; /* too many operations at that node: the put failed */
        fold(s, (uint64_t)err << 32 | number);
        put_ended(s);
    }
    reschedule(s, o->writer);
}

/* True when none of the r live nodes closest to the object is honest: then no read of it
 * can be answered well, whatever the reader does. */
static bool captured(struct sim *s, const struct object *o)
{
    uint32_t r = s->cfg->replicas;
    uint32_t best[CORDON_REPLICAS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        if (!s->nodes[i].alive || !s->nodes[i].started)
            continue;
        uint32_t pos = n < r ? n : r;
        while (pos > 0 && closer(o->key, s->nodes[i].self.id, s->nodes[best[pos - 1]].self.id) < 0)
            pos--;
        if (pos >= r)
            continue;
        uint32_t end = n < r ? n : r - 1;
        memmove(&best[pos + 1], &best[pos], (end - pos) * sizeof(best[0]));
        best[pos] = i;
        if (n < r)
            n++;
    }
    for (uint32_t i = 0; i < n; i++)
        if (s->nodes[best[i]].kind == CORDON_SIM_HONEST)
            return false;
    return true;
}

static void read_done(void *arg, cordon_err result, const uint8_t *obj, size_t len,
                      const struct cordon_get_result *res)
{
    struct read *rd = arg;
    struct sim *s = rd->sim;
    const cordon_buf *want = &s->puts[rd->expect].obj;
    struct cordon_object o;
    uint8_t outcome;
    (void)res;
    struct cordon_sim_check *c = &s->st.checks[rd->check];
    s->nodes[rd->origin].running_lookups--;
    s->reads_ended++;
    if (result != CORDON_OK) {
        outcome = 1;
        s->st.reads_failed++;
        c->reads_failed++;
    } else if (len == want->len && memcmp(obj, want->data, len) == 0) {
        outcome = 0;
        s->st.reads_newest++;
        c->reads_newest++;
    } else {
        outcome = 2;
        s->st.reads_wrong++;
        c->reads_wrong++;
        if (cordon_object_decode(obj, len, &o) == CORDON_OK && o.seq < s->puts[rd->expect].seq) {
            outcome = 3;
            s->st.reads_wrong_old++;
        }
    }
    fold(s, (uint64_t)outcome << 32 | (uint32_t)(rd - s->reads));
}

static void start_read(struct sim *s, uint32_t number)
{
    struct read *rd = &s->reads[number];
    int origin = honest_origin(s);
    if (origin < 0) {
        s->failure = CORDON_ERR_NOT_FOUND;
        return;
    }
    uint32_t first, pick;
    if (s->rounds) {
        /* A check reads the objects in turn (evenly spread when it reads fewer), so that
         * every object is read when reads = objects; one never stored is not read. */
        uint32_t i = number % s->cfg->reads;
        rd->check = number / s->cfg->reads;
        pick = (uint32_t)((uint64_t)i * s->cfg->objects / s->cfg->reads) % s->cfg->objects;
        if (s->objects[pick].newest < 0) {
            s->reads_ended++;
            return;
        }
    } else {
        /* A random object that has an accepted put (the first tried of those after it). */
        first = rng_below(s, s->cfg->objects);
        pick = first;
        while (s->objects[pick].newest < 0) {
            pick = (pick + 1) % s->cfg->objects;
            if (pick == first) {
                s->reads_ended++; /* nothing was stored: nothing to read */
                return;
            }
        }
    }
    struct object *o = &s->objects[pick];
    rd->sim = s;
    rd->origin = (uint32_t)origin;
    rd->expect = o->newest;
    s->st.reads++;
    s->st.checks[rd->check].reads++;
    /* Only adversaries capture an object: without them, the closest nodes need no walk. */
    if (s->adversaries && captured(s, o))
        s->st.reads_captured++;
    s->nodes[origin].running_lookups++;
    cordon_err err = cordon_core_get(s->nodes[origin].core, s->now, o->key, read_done, rd);
    if (err != CORDON_OK) {
        s->nodes[origin].running_lookups--;
        s->reads_ended++;
        s->st.reads_failed++;
        s->st.checks[rd->check].reads_failed++;
        fold(s, (uint64_t)err << 32 | number);
    }
    reschedule(s, (uint32_t)origin);
}

/* ---- the run ----------------------------------------------------------------------------- */

static cordon_err add_node(struct sim *s, uint8_t kind)
{
    if (s->n_nodes == s->cap_nodes)
        return CORDON_ERR_TOO_LARGE;
    uint32_t idx = s->n_nodes;
    struct node *n = &s->nodes[idx];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->timer_at = UINT64_MAX;
    rng_bytes(s, n->self.id, CORDON_NODE_ID_LEN); /* drawn by the "enrollment server" */
    n->self.addr.family = 4;
    n->self.addr.port = 7000;
    do { /* a unique address in 10.0.0.0/8: /24 prefixes mostly distinct, as in a LAN */
        uint32_t a = rng_below(s, 1u << 24);
        n->self.addr.ip[0] = 10;
        n->self.addr.ip[1] = (uint8_t)(a >> 16);
        n->self.addr.ip[2] = (uint8_t)(a >> 8);
        n->self.addr.ip[3] = (uint8_t)(a | 1);
    } while (node_at(s, &n->self.addr) >= 0);
    s->hosts[idx].s = s;
    s->hosts[idx].idx = idx;
    s->n_nodes++;
    addr_insert(s, idx);
    return CORDON_OK;
}

static void deliver(struct sim *s, struct event *ev)
{
    struct node *d = &s->nodes[ev->b];
    if (!d->alive || d->core == NULL)
        return;
    fold(s, (uint64_t)ev->a << 32 | ev->b);
    fold_msg(s, ev->msg, ev->len);
    s->delivered++;
    if (s->attack && (d->kind == CORDON_SIM_DROP || d->kind == CORDON_SIM_ECLIPSE)) {
        if (d->kind == CORDON_SIM_DROP)
            return;
        struct cordon_msg m;
        if (cordon_msg_decode(ev->msg, ev->len, &m) == CORDON_OK &&
            !(m.flags & CORDON_MSG_FLAG_RESPONSE))
            eclipse_answer(s, ev->b, ev->a, &m);
        return;
    }
    cordon_core_receive(d->core, s->now, &s->nodes[ev->a].self, ev->msg, ev->len);
    reschedule(s, ev->b);
}

static void on_attack(struct sim *s)
{
    const struct cordon_sim_config *c = s->cfg;
    s->attack = true;
    s->attack_at = s->now;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        struct node *n = &s->nodes[i];
        n->cut = c->partition_share > 0 && rng_unit(s) < c->partition_share;
        if (n->kind == CORDON_SIM_FLOOD && c->flood_rate > 0) {
            for (int v = 0; v < 4; v++)
                n->victims[v] = rng_below(s, s->n_nodes);
            schedule(s, s->now + rng_below(s, 1000), EV_FLOOD, i, 0);
        }
        if (n->kind == CORDON_SIM_FLAP)
            schedule(s, s->now + rng_below(s, c->flap_period_ms + 1), EV_FLAP, i, 0);
    }
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        uint8_t kind = s->nodes[i].kind;
        s->nodes[i].store.mode = kind == CORDON_SIM_REFUSE  ? SIM_STORE_REFUSE
                                 : kind == CORDON_SIM_STALE ? SIM_STORE_STALE
                                 : kind == CORDON_SIM_FORGE ? SIM_STORE_FORGE
                                                            : SIM_STORE_HONEST;
    }
    for (uint32_t i = 0; i < c->lookups; i++)
        schedule(s, s->now + (uint64_t)i * c->lookup_interval_ms, EV_LOOKUP, i, 0);
    for (uint32_t i = 0; i < s->puts_total; i++)
        schedule(s, s->now + (uint64_t)i * c->put_interval_ms, EV_PUT, i, 0);
    if (s->storage && s->puts_total == 0)
        schedule_reads(s, s->now + READS_AFTER_MS, 0);
    if (c->churn_per_minute > 0)
        schedule(s, s->now + (uint64_t)(60000.0 / c->churn_per_minute), EV_CHURN, 0, 0);
}

static void on_churn(struct sim *s)
{
    /* One honest node crashes (never one waiting for its own lookup) and a new one joins. */
    for (int tries = 0; tries < 100; tries++) {
        uint32_t v = rng_below(s, s->n_nodes);
        if (honest_live(&s->nodes[v]) && s->nodes[v].running_lookups == 0) {
            stop_core(s, v);
            s->crashed++;
            break;
        }
    }
    if (add_node(s, CORDON_SIM_HONEST) == CORDON_OK) {
        s->joined_late++;
        cordon_err err = start_core(s, s->n_nodes - 1);
        if (err != CORDON_OK)
            s->failure = err;
    }
    if (work_left(s))
        schedule(s, s->now + (uint64_t)(60000.0 / s->cfg->churn_per_minute), EV_CHURN, 0, 0);
}

/* ---- churn rounds ------------------------------------------------------------------------ */

static int cmp_key_index(const void *a, const void *b)
{
    return memcmp(((const struct key_index *)a)->key, ((const struct key_index *)b)->key,
                  CORDON_OBJECT_ENTRY_KEY_LEN);
}

/* The truth a reader cannot see: how many live honest nodes hold a genuine copy of each
 * object's newest version, from the stores themselves. A lost object has none left, and
 * nothing (no maintenance, no reader) can bring it back but its writer. */
static void count_copies(struct sim *s, struct cordon_sim_check *c)
{
    const struct cordon_sim_config *cfg = s->cfg;
    uint64_t now = sim_unix(s->now);
    memset(s->copies, 0, cfg->objects * sizeof(*s->copies));
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const struct node *n = &s->nodes[i];
        if (!honest_live(n) || n->store.mode != SIM_STORE_HONEST)
            continue;
        for (size_t j = 0; j < n->store.n; j++) {
            const struct sim_entry *e = &n->store.entries[j];
            struct key_index probe;
            if (e->expires_at <= now)
                continue;
            memcpy(probe.key, e->key, sizeof(probe.key));
            const struct key_index *k =
                bsearch(&probe, s->by_key, cfg->objects, sizeof(*s->by_key), cmp_key_index);
            if (k == NULL)
                continue;
            const struct object *o = &s->objects[k->object];
            if (o->newest >= 0 && e->seq >= s->puts[o->newest].seq)
                s->copies[k->object]++;
        }
    }
    uint64_t sum = 0;
    c->copies_min = UINT32_MAX;
    for (uint32_t j = 0; j < cfg->objects; j++) {
        if (s->objects[j].newest < 0)
            continue;
        uint32_t copies = s->copies[j];
        c->stored++;
        sum += copies;
        if (copies == 0)
            c->lost++;
        if (copies < cfg->replicas)
            c->under++;
        if (copies < c->copies_min)
            c->copies_min = copies;
    }
    if (c->stored == 0)
        c->copies_min = 0;
    c->copies_avg = c->stored ? (double)sum / c->stored : 0;
    for (uint32_t i = 0; i < s->n_nodes; i++)
        c->live += s->nodes[i].alive && s->nodes[i].core != NULL;
    fold(s, (uint64_t)c->lost << 32 | c->under);
    fold(s, sum);
}

/* The victims of a round: the honest nodes live at its start, in a seeded random order;
 * the first churn_fraction of them are replaced (a busy one, waiting for its own get or
 * put, is passed over for the next). Replacements are spread evenly over the period, so
 * maintenance runs between them, as it would between departures in a real overlay. */
static void start_round(struct sim *s)
{
    const struct cordon_sim_config *c = s->cfg;
    s->n_victims = 0;
    s->next_victim = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++)
        if (honest_live(&s->nodes[i]))
            s->victims[s->n_victims++] = i;
    for (uint32_t i = s->n_victims; i > 1; i--) { /* Fisher-Yates */
        uint32_t j = rng_below(s, i);
        uint32_t t = s->victims[i - 1];
        s->victims[i - 1] = s->victims[j];
        s->victims[j] = t;
    }
    uint32_t quota = (uint32_t)(c->churn_fraction * s->n_victims + 0.5);
    for (uint32_t i = 0; i < quota; i++)
        schedule(s, s->now + (2 * (uint64_t)i + 1) * c->churn_period_ms / (2 * (uint64_t)quota),
                 EV_REPLACE, 0, 0);
}

/* A node leaves for good (its store goes with it) and a new honest one, with an ID of its
 * own, joins through random live nodes. */
static void on_replace(struct sim *s)
{
    while (s->next_victim < s->n_victims) {
        uint32_t v = s->victims[s->next_victim++];
        if (!honest_live(&s->nodes[v]) || s->nodes[v].running_lookups > 0)
            continue;
        stop_core(s, v);
        sim_store_free(&s->nodes[v].store);
        s->st.replaced++;
        cordon_err err = add_node(s, CORDON_SIM_HONEST);
        if (err == CORDON_OK)
            err = start_core(s, s->n_nodes - 1);
        if (err != CORDON_OK)
            s->failure = err;
        return;
    }
}

/* Check number k: at the start (0) or the end of round k. The copies are counted at once;
 * the gets start now and run while the next round does. */
static void on_round(struct sim *s, uint32_t k)
{
    const struct cordon_sim_config *c = s->cfg;
    if (k == 0) {
        s->rounds_at = s->now;
        for (uint32_t j = 0; j < c->objects; j++) {
            memcpy(s->by_key[j].key, s->objects[j].key, CORDON_OBJECT_ENTRY_KEY_LEN);
            s->by_key[j].object = j;
        }
        qsort(s->by_key, c->objects, sizeof(*s->by_key), cmp_key_index);
    }
    struct cordon_sim_check *check = &s->st.checks[k];
    check->at_ms = s->now - s->rounds_at;
    check->replaced = s->st.replaced;
    count_copies(s, check);
    s->st.checks_done = k + 1;
    schedule_reads(s, s->now, k * c->reads);
    if (k < c->churn_rounds) {
        start_round(s);
        schedule(s, s->now + c->churn_period_ms, EV_ROUND, k + 1, 0);
    }
}

static void on_flap(struct sim *s, uint32_t idx)
{
    /* Up for half a period, down for the other half, for as long as lookups run. */
    if (s->nodes[idx].alive) {
        stop_core(s, idx);
    } else {
        cordon_err err = start_core(s, idx);
        if (err != CORDON_OK)
            s->failure = err;
    }
    if (work_left(s))
        schedule(s, s->now + s->cfg->flap_period_ms / 2 + 1, EV_FLAP, idx, 0);
}

static void dispatch(struct sim *s, struct event *ev)
{
    fold(s, ev->at);
    fold(s, ev->type);
    switch (ev->type) {
    case EV_DELIVER:
        deliver(s, ev);
        break;
    case EV_LINKFAIL: {
        struct node *n = &s->nodes[ev->a];
        if (n->alive && n->core != NULL) {
            struct cordon_contact to;
            memcpy(&to, ev->msg, sizeof(to));
            cordon_core_link_failed(n->core, s->now, &to);
            reschedule(s, ev->a);
        }
        break;
    }
    case EV_TICK: {
        struct node *n = &s->nodes[ev->a];
        if (!n->alive || ev->gen != n->timer_gen)
            break;
        n->timer_at = UINT64_MAX;
        cordon_core_tick(n->core, s->now);
        reschedule(s, ev->a);
        break;
    }
    case EV_JOIN: {
        cordon_err err = start_core(s, ev->a);
        if (err != CORDON_OK)
            s->failure = err;
        break;
    }
    case EV_ATTACK:
        on_attack(s);
        break;
    case EV_LOOKUP:
        start_lookup(s, ev->a);
        break;
    case EV_CHURN:
        on_churn(s);
        break;
    case EV_FLOOD:
        if (s->nodes[ev->a].alive && work_left(s)) {
            flood_once(s, ev->a);
            schedule(s, s->now + 1000 / s->cfg->flood_rate, EV_FLOOD, ev->a, 0);
        }
        break;
    case EV_FLAP:
        on_flap(s, ev->a);
        break;
    case EV_PUT:
        start_put(s, ev->a);
        break;
    case EV_READ:
        start_read(s, ev->a);
        break;
    case EV_ROUND:
        on_round(s, ev->a);
        break;
    case EV_REPLACE:
        on_replace(s);
        break;
    default:
        break;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const uint32_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

const char *cordon_sim_kind_name(enum cordon_sim_kind kind)
{
    static const char *const names[CORDON_SIM_KINDS] = {"honest", "drop",   "eclipse", "flood",
                                                        "flap",   "refuse", "stale",   "forge"};
    return (unsigned)kind < CORDON_SIM_KINDS ? names[kind] : "unknown";
}

void cordon_sim_config_default(struct cordon_sim_config *c)
{
    memset(c, 0, sizeof(*c));
    c->nodes = 1000;
    c->lookups = 1000;
    c->seed = 1;
    c->k = 20;
    c->alpha = 3;
    c->disjoint = 4;
    c->latency_min_ms = 10;
    c->latency_max_ms = 60;
    c->join_interval_ms = 10;
    c->settle_ms = 60000;
    c->lookup_interval_ms = 5;
    c->bootstrap = 3;
    c->flood_rate = 200;
    c->flap_period_ms = 10000;
    c->value_size = 64;
    c->updates = 1;
    c->replicas = 3;
    c->put_interval_ms = 10;
    c->read_interval_ms = 5;
    c->maintain = true;
    c->churn_fraction = 0.5;
    c->churn_period_ms = 600000;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void finish(struct sim *s, struct cordon_sim_result *r)
{
    size_t n_max = s->cfg->lookups ? s->cfg->lookups : 1;
    uint32_t *hops = calloc(n_max, sizeof(*hops));
    uint32_t *rounds = calloc(n_max, sizeof(*rounds));
    size_t n_hops = 0;
    uint64_t messages = 0;
    r->lookups = s->lookups_started;
    for (uint32_t i = 0; i < s->lookups_started; i++) {
        struct lookup *l = &s->lookups[i];
        if (l->ok)
            r->succeeded++;
        messages += l->messages;
        if (hops != NULL && rounds != NULL && l->done) {
            hops[n_hops] = l->hops;
            rounds[n_hops++] = l->rounds;
        }
    }
    if (hops != NULL && rounds != NULL) {
        qsort(hops, n_hops, sizeof(*hops), cmp_u32);
        qsort(rounds, n_hops, sizeof(*rounds), cmp_u32);
        r->hops_median = percentile(hops, n_hops, 0.5);
        r->hops_p99 = percentile(hops, n_hops, 0.99);
        r->rounds_median = percentile(rounds, n_hops, 0.5);
        r->rounds_p99 = percentile(rounds, n_hops, 0.99);
    }
    free(hops);
    free(rounds);
    r->success_rate = r->lookups ? (double)r->succeeded / r->lookups : 0;
    r->messages_per_lookup = r->lookups ? (double)messages / r->lookups : 0;
    uint32_t live = 0;
    double mem_sum = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        struct node *n = &s->nodes[i];
        r->adversaries[n->kind]++;
        if (n->core == NULL)
            continue;
        double mem = (double)cordon_core_memory(n->core);
        mem_sum += mem;
        if (mem > r->memory_max)
            r->memory_max = mem;
        live++;
        if (n->kind != CORDON_SIM_HONEST)
            continue;
        struct cordon_core_status st;
        cordon_core_status(n->core, &st);
        r->dropped_rate_node += st.dropped_rate_node;
        r->dropped_rate_global += st.dropped_rate_global;
        r->refused_churn += st.refused_churn;
        r->refused_prefix += st.refused_prefix;
        r->dropped_unsolicited += st.dropped_unsolicited;
        r->timeouts += st.timeouts;
        r->evictions += st.evictions;
        r->paced += st.paced;
        r->retried_limited += st.retried_limited;
        count_core(s, n);
    }
    r->puts = s->st.puts;
    r->puts_ok = s->st.puts_ok;
    r->reads = s->st.reads;
    r->reads_newest = s->st.reads_newest;
    r->reads_failed = s->st.reads_failed;
    r->reads_wrong = s->st.reads_wrong;
    r->reads_wrong_old = s->st.reads_wrong_old;
    r->reads_captured = s->st.reads_captured;
    r->read_success_rate = r->reads ? (double)r->reads_newest / r->reads : 0;
    r->get_stale = s->st.get_stale;
    r->get_forged = s->st.get_forged;
    r->stores_accepted = s->st.stores_accepted;
    r->maintain_ms = s->core_cfg.maintain_ms;
    r->maintain_soon_ms = s->core_cfg.maintain_soon_ms;
    r->maintain_passes = s->st.maintain_passes;
    r->summaries_sent = s->st.summaries_sent;
    r->summaries_served = s->st.summaries_served;
    r->maintain_pushed = s->st.maintain_pushed;
    r->maintain_accepted = s->st.maintain_accepted;
    r->maintain_retargeted = s->st.maintain_retargeted;
    r->maintain_watch_ms = s->core_cfg.maintain_watch_ms;
    r->watch_timeout_min_ms = s->core_cfg.watch_timeout_min_ms;
    r->maintain_watched = s->st.maintain_watched;
    r->maintain_watch_failed = s->st.maintain_watch_failed;
    r->checks_done = s->st.checks_done;
    r->replaced = s->st.replaced;
    memcpy(r->checks, s->st.checks, sizeof(r->checks));
    r->memory_avg = live ? mem_sum / live : 0;
    r->nodes = s->cfg->nodes;
    r->digest = s->digest;
    r->virtual_ms = s->now;
    r->events = s->events;
    r->messages = s->delivered;
    r->crashed = s->crashed;
    r->joined_late = s->joined_late;
}

cordon_err cordon_sim_run(const struct cordon_sim_config *cfg, struct cordon_sim_result *out)
{
    struct sim sim;
    struct sim *s = &sim;
    double started = wall_now();
    cordon_err err = CORDON_OK;
    memset(s, 0, sizeof(*s));
    memset(out, 0, sizeof(*out));
    if (cfg->nodes < 2 || cfg->nodes > 1000000 || cfg->k == 0 || cfg->k > CORDON_K_MAX ||
        cfg->alpha == 0 || cfg->disjoint == 0 || cfg->disjoint > cfg->k ||
        cfg->latency_min_ms > cfg->latency_max_ms || cfg->loss < 0 || cfg->loss >= 1 ||
        cfg->flood_rate > 1000 || cfg->flap_period_ms < 2)
        return CORDON_ERR_INVAL;
    if (cfg->objects > 0 &&
        (cfg->value_size == 0 || cfg->value_size > CORDON_OBJECT_VALUE_MAX || cfg->replicas == 0 ||
         cfg->replicas > cfg->k || cfg->replicas > CORDON_REPLICAS_MAX || cfg->objects > 1000000 ||
         cfg->updates > 1000 || (uint64_t)cfg->objects * (cfg->updates + 1) > 10000000 ||
         cfg->reads > 10000000))
        return CORDON_ERR_INVAL;
    if (cfg->maintain_ms > 86400000 || cfg->maintain_soon_ms > 86400000 ||
        cfg->maintain_watch_ms > 86400000 || cfg->watch_timeout_min_ms > 1000 ||
        (cfg->maintain_ms > 0 && cfg->maintain_soon_ms > cfg->maintain_ms) ||
        (cfg->maintain_ms > 0 && cfg->maintain_watch_ms > cfg->maintain_ms))
        return CORDON_ERR_INVAL;
    /* Churn rounds need objects to count, and reads of each check fit in the read budget. */
    if (cfg->churn_rounds > 0 &&
        (cfg->objects == 0 || cfg->churn_rounds > CORDON_SIM_ROUNDS_MAX ||
         !(cfg->churn_fraction >= 0 && cfg->churn_fraction <= 1) || cfg->churn_period_ms == 0 ||
         (uint64_t)cfg->reads * (cfg->churn_rounds + 1) > 10000000))
        return CORDON_ERR_INVAL;
    double adversary_share = 0;
    for (int k = 1; k < CORDON_SIM_KINDS; k++)
        adversary_share += cfg->share[k];
    if (adversary_share < 0 || adversary_share >= 1)
        return CORDON_ERR_INVAL;

    s->cfg = cfg;
    rng_seed(s, cfg->seed);
    cordon_core_config_default(&s->core_cfg);
    s->core_cfg.params.k = cfg->k;
    s->core_cfg.params.alpha = cfg->alpha;
    s->core_cfg.params.disjoint_paths = cfg->disjoint;
    if (cfg->objects > 0)
        s->core_cfg.params.replicas = cfg->replicas;
    if (cfg->maintain_ms > 0) {
        s->core_cfg.maintain_ms = cfg->maintain_ms;
        /* A period shorter than the default "soon" or watch shortens them too, unless they
         * are given. */
        if (s->core_cfg.maintain_soon_ms > cfg->maintain_ms)
            s->core_cfg.maintain_soon_ms = cfg->maintain_ms;
        if (s->core_cfg.maintain_watch_ms > cfg->maintain_ms)
            s->core_cfg.maintain_watch_ms = cfg->maintain_ms;
    }
    if (cfg->maintain_soon_ms > 0)
        s->core_cfg.maintain_soon_ms = cfg->maintain_soon_ms;
    if (cfg->maintain_watch_ms > 0)
        s->core_cfg.maintain_watch_ms = cfg->maintain_watch_ms;
    if (cfg->watch_timeout_min_ms > 0)
        s->core_cfg.watch_timeout_min_ms = cfg->watch_timeout_min_ms;
    s->rounds = cfg->objects > 0 && cfg->churn_rounds > 0;
    for (int k = 1; k < CORDON_SIM_KINDS; k++)
        s->adversaries = s->adversaries || cfg->share[k] > 0;
    /* Room for the nodes that churn adds: one per churn event while lookups run. */
    uint64_t churn_extra =
        cfg->churn_per_minute > 0
            ? (uint64_t)(cfg->churn_per_minute *
                         ((double)cfg->lookups * cfg->lookup_interval_ms / 60000.0 + 60 +
                          (s->rounds ? (cfg->churn_rounds + 1.0) * cfg->churn_period_ms / 60000.0
                                     : 0))) +
                  16
            : 0;
    /* And for the rounds' newcomers: a round replaces a share of the honest nodes live at
     * its start, and each replacement keeps that number as it is. */
    if (s->rounds)
        churn_extra +=
            (uint64_t)cfg->churn_rounds * ((uint64_t)(cfg->churn_fraction * cfg->nodes) + 1);
    s->cap_nodes = cfg->nodes + (uint32_t)(churn_extra < 1000000 ? churn_extra : 1000000);
    size_t slots = 16;
    while (slots < 2 * (size_t)s->cap_nodes)
        slots *= 2;
    s->addr_mask = slots - 1;
    s->nodes = calloc(s->cap_nodes, sizeof(*s->nodes));
    s->hosts = calloc(s->cap_nodes, sizeof(*s->hosts));
    s->addr_slots = calloc(slots, sizeof(*s->addr_slots));
    s->eclipsers = calloc(s->cap_nodes, sizeof(*s->eclipsers));
    s->lookups = calloc(cfg->lookups ? cfg->lookups : 1, sizeof(*s->lookups));
    if (!s->nodes || !s->hosts || !s->addr_slots || !s->eclipsers || !s->lookups) {
        err = CORDON_ERR_NOMEM;
        goto out;
    }
    if (cfg->objects > 0) {
        s->puts_total = cfg->objects * (cfg->updates + 1);
        s->reads_total = cfg->reads * (s->rounds ? cfg->churn_rounds + 1 : 1);
        s->objects = calloc(cfg->objects, sizeof(*s->objects));
        s->puts = calloc(s->puts_total, sizeof(*s->puts));
        s->reads = calloc(s->reads_total ? s->reads_total : 1, sizeof(*s->reads));
        if (s->rounds) {
            s->victims = calloc(s->cap_nodes, sizeof(*s->victims));
            s->by_key = calloc(cfg->objects, sizeof(*s->by_key));
            s->copies = calloc(cfg->objects, sizeof(*s->copies));
        }
        if (!s->objects || !s->puts || !s->reads ||
            (s->rounds && (!s->victims || !s->by_key || !s->copies))) {
            err = CORDON_ERR_NOMEM;
            goto out;
        }
        for (uint32_t i = 0; i < cfg->objects; i++)
            s->objects[i].newest = -1;
        err = sim_ca_init(&s->ca);
        if (err != CORDON_OK)
            goto out;
        s->storage = true;
    }

    /* Kinds are dealt by share, in a seeded order; joins are spaced evenly. */
    for (uint32_t i = 0; i < cfg->nodes && err == CORDON_OK; i++) {
        double u = rng_unit(s), acc = 0;
        uint8_t kind = CORDON_SIM_HONEST;
        for (int k = 1; k < CORDON_SIM_KINDS; k++) {
            acc += cfg->share[k];
            if (u < acc) {
                kind = (uint8_t)k;
                break;
            }
        }
        err = add_node(s, kind);
        if (kind == CORDON_SIM_ECLIPSE)
            s->eclipsers[s->n_eclipsers++] = i;
        schedule(s, (uint64_t)i * cfg->join_interval_ms, EV_JOIN, i, 0);
    }
    schedule(s, (uint64_t)cfg->nodes * cfg->join_interval_ms + cfg->settle_ms, EV_ATTACK, 0, 0);

    /* Runs until every lookup has finished; a lookup always ends (timeouts), and the cap on
     * virtual time only guards against a bug. */
    uint64_t cap_ms = (uint64_t)cfg->nodes * cfg->join_interval_ms + cfg->settle_ms +
                      (uint64_t)cfg->lookups * cfg->lookup_interval_ms +
                      (uint64_t)s->puts_total * cfg->put_interval_ms +
                      (uint64_t)s->reads_total * cfg->read_interval_ms +
                      (s->rounds ? (uint64_t)cfg->churn_rounds * cfg->churn_period_ms : 0) +
                      3600000;
    while (err == CORDON_OK && s->failure == CORDON_OK && s->heap_len > 0) {
        if (s->attack && !work_left(s))
            break;
        struct event ev = pop(s);
        if (ev.at > cap_ms) {
            free(ev.msg);
            err = CORDON_ERR_BUSY;
            break;
        }
        s->now = ev.at;
        s->events++;
        dispatch(s, &ev);
        free(ev.msg);
    }
    if (err == CORDON_OK)
        err = s->failure;
    finish(s, out);
    out->wall_seconds = wall_now() - started;
out:
    while (s->heap_len > 0) {
        struct event ev = pop(s);
        free(ev.msg);
    }
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        cordon_core_free(s->nodes[i].core);
        sim_store_free(&s->nodes[i].store);
        if (s->nodes[i].idt != NULL)
            sim_identity_free(s->nodes[i].idt);
        free(s->nodes[i].idt);
    }
    for (uint32_t i = 0; s->puts != NULL && i < s->puts_total; i++)
        cordon_buf_free(&s->puts[i].obj);
    free(s->objects);
    free(s->puts);
    free(s->reads);
    free(s->victims);
    free(s->by_key);
    free(s->copies);
    if (s->storage)
        sim_ca_free(&s->ca);
    free(s->heap);
    free(s->nodes);
    free(s->hosts);
    free(s->addr_slots);
    free(s->eclipsers);
    free(s->lookups);
    return err;
}
