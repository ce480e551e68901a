/*
 * tests/unit/test_core.c — the overlay core (peer/core/core.h), driven the way its hosts
 * drive it: time passed in, randomness from a seeded xorshift, messages through callbacks.
 *
 * Two hosts live here:
 *   - a capture host for one core: what it sends is kept for the test to read, and the
 *     test writes the messages it receives by hand (table, RPC, limiter tests);
 *   - a fake network of up to 128 cores with a manual clock, a FIFO of packets with a fixed
 *     latency, and nodes that can be made mute (they drop everything) or unreachable (the
 *     sender's link fails), for joins and lookups.
 * Counters are asserted exactly; every lookup callback asserts it runs only once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer/core/core.h"
#include "peer/core/id.h"
#include "peer/core/internal.h"
#include "wire/msg.h"

/* ---- deterministic randomness --------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static void fill_xorshift(uint64_t *s, void *out, size_t n)
{
    uint8_t *p = out;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(xorshift(s) >> 32);
}

/* ---- contacts ------------------------------------------------------------------------- */

/* An IPv4 contact 10.a.b.1:4000 with the given ID. */
static struct cordon_contact contact4(const uint8_t id[CORDON_NODE_ID_LEN], uint8_t a, uint8_t b)
{
    struct cordon_contact c;
    memset(&c, 0, sizeof(c));
    memcpy(c.id, id, CORDON_NODE_ID_LEN);
    c.addr.family = 4;
    c.addr.ip[0] = 10;
    c.addr.ip[1] = a;
    c.addr.ip[2] = b;
    c.addr.ip[3] = 1;
    c.addr.port = 4000;
    return c;
}

/* ID in bucket `bucket` of the all-zero ID, told apart by `n` in its last bytes. */
static struct cordon_contact in_bucket(unsigned bucket, unsigned n, uint8_t a, uint8_t b)
{
    uint8_t id[CORDON_NODE_ID_LEN] = {0};
    id[bucket / 8] = (uint8_t)(0x80u >> (bucket % 8));
    id[30] |= (uint8_t)(n >> 8);
    id[31] |= (uint8_t)n;
    return contact4(id, a, b);
}

static bool contact_in(const cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN])
{
    struct cordon_contact all[512];
    size_t n = cordon_core_contacts(core, all, 512);
    for (size_t i = 0; i < n && i < 512; i++)
        if (memcmp(all[i].id, id, CORDON_NODE_ID_LEN) == 0)
            return true;
    return false;
}

static struct cordon_core_status status_of(const cordon_core *core)
{
    struct cordon_core_status st;
    cordon_core_status(core, &st);
    return st;
}

/* ---- the capture host ------------------------------------------------------------------ */

#define SENT_MAX 4096

struct sent {
    struct cordon_contact to;
    struct cordon_msg m;
};

struct capture {
    uint64_t rng;
    size_t n;
    struct sent *sent;
};

static void capture_send(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len)
{
    struct capture *cap = ctx;
    assert_true(cap->n < SENT_MAX);
    cap->sent[cap->n].to = *to;
    assert_int_equal(cordon_msg_decode(msg, len, &cap->sent[cap->n].m), CORDON_OK);
    cap->n++;
}

static void capture_random(void *ctx, void *out, size_t n)
{
    fill_xorshift(&((struct capture *)ctx)->rng, out, n);
}

static const uint8_t ZERO_ID[CORDON_NODE_ID_LEN] = {0};

/* A core whose own ID is all zeros at 192.168.0.1, on a capture host. */
static cordon_core *capture_core(struct capture *cap, const struct cordon_core_config *cfg)
{
    memset(cap, 0, sizeof(*cap));
    cap->rng = 0x9e3779b97f4a7c15ULL;
    cap->sent = calloc(SENT_MAX, sizeof(*cap->sent));
    assert_non_null(cap->sent);
    struct cordon_contact self = contact4(ZERO_ID, 0, 0);
    self.addr.ip[0] = 192;
    self.addr.ip[1] = 168;
    struct cordon_core_host host = {.ctx = cap, .send = capture_send, .random = capture_random};
    cordon_core *core = NULL;
    assert_int_equal(cordon_core_new(cfg, &self, &host, &core), CORDON_OK);
    return core;
}

static void capture_free(struct capture *cap, cordon_core *core)
{
    cordon_core_free(core);
    free(cap->sent);
}

static void deliver(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                    const struct cordon_msg *m)
{
    uint8_t buf[CORDON_MSG_MAX];
    size_t len;
    assert_int_equal(cordon_msg_encode(m, buf, sizeof(buf), &len), CORDON_OK);
    cordon_core_receive(core, now, from, buf, len);
}

static void deliver_simple(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                           uint8_t type, uint32_t txid)
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.flags =
        (type == CORDON_MSG_PING || type == CORDON_MSG_FIND_NODE) ? 0 : CORDON_MSG_FLAG_RESPONSE;
    m.txid = txid;
    if (type == CORDON_MSG_ERROR) {
        m.u.error.code = CORDON_MSGERR_RATE_LIMITED;
        memcpy(m.u.error.text, "slow down", 9);
    }
    deliver(core, now, from, &m);
}

static void deliver_find(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                         uint32_t txid, const uint8_t target[CORDON_NODE_ID_LEN])
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_FIND_NODE;
    m.txid = txid;
    memcpy(m.u.find_node.target, target, CORDON_NODE_ID_LEN);
    deliver(core, now, from, &m);
}

/* Index of the last message sent to id with the given type, or SIZE_MAX. */
static size_t last_sent(const struct capture *cap, const uint8_t id[CORDON_NODE_ID_LEN],
                        uint8_t type)
{
    for (size_t i = cap->n; i-- > 0;)
        if (memcmp(cap->sent[i].to.id, id, CORDON_NODE_ID_LEN) == 0 && cap->sent[i].m.type == type)
            return i;
    return SIZE_MAX;
}

static size_t count_sent(const struct capture *cap, size_t from, uint8_t type)
{
    size_t n = 0;
    for (size_t i = from; i < cap->n; i++)
        if (cap->sent[i].m.type == type)
            n++;
    return n;
}

/* ---- lookup callbacks ------------------------------------------------------------------ */

struct result {
    int calls;
    cordon_err err;
    size_t n;
    struct cordon_contact closest[CORDON_K_MAX];
    struct cordon_lookup_stats stats;
    void *ctx; /* the test's own */
};

static void on_lookup(void *arg, cordon_err err, const struct cordon_contact *closest, size_t n,
                      const struct cordon_lookup_stats *stats)
{
    struct result *r = arg;
    assert_int_equal(r->calls, 0); /* exactly once */
    r->calls++;
    r->err = err;
    assert_true(n <= CORDON_K_MAX);
    r->n = n;
    if (n > 0)
        memcpy(r->closest, closest, n * sizeof(*closest));
    r->stats = *stats;
}

/* ---- the fake network ------------------------------------------------------------------ */

#define NET_MAX 128
#define QUEUE_MAX 65536
#define LATENCY_MS 10
#define QUERY_LOG_MAX 200000

enum packet_kind { PKT_MSG, PKT_LINK_FAILED };

struct packet {
    uint64_t at;
    size_t from;
    uint8_t kind;
    struct cordon_contact to;
    size_t len;
    uint8_t *data;
};

struct query {
    size_t node;
    uint32_t lookup;
    unsigned path;
    uint8_t id[CORDON_NODE_ID_LEN];
};

struct net;

struct node {
    struct net *net;
    size_t idx;
    cordon_core *core;
    struct cordon_contact me;
    bool mute;        /* receives nothing, answers nothing */
    bool unreachable; /* links to it fail */
};

struct net {
    uint64_t now;
    uint64_t rng;
    size_t n;
    struct node nodes[NET_MAX];
    struct packet *q;
    size_t qhead, qlen;
    uint64_t delivered;
    struct query *queries;
    size_t nqueries;
    /* lookup figures, printed by the tests */
    uint64_t lookups, messages, rounds, exact;
};

static void push(struct net *net, struct packet p)
{
    assert_true(net->qlen < QUEUE_MAX);
    net->q[(net->qhead + net->qlen) % QUEUE_MAX] = p;
    net->qlen++;
}

static void net_send(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len)
{
    struct node *from = ctx;
    struct packet p = {.at = from->net->now + LATENCY_MS,
                       .from = from->idx,
                       .kind = PKT_MSG,
                       .to = *to,
                       .len = len};
    p.data = malloc(len);
    assert_non_null(p.data);
    memcpy(p.data, msg, len);
    push(from->net, p);
}

static void net_random(void *ctx, void *out, size_t n)
{
    fill_xorshift(&((struct node *)ctx)->net->rng, out, n);
}

static void net_query_hook(void *ctx, uint32_t lookup, unsigned path,
                           const struct cordon_contact *to)
{
    struct node *node = ctx;
    struct net *net = node->net;
    assert_true(net->nqueries < QUERY_LOG_MAX);
    struct query *q = &net->queries[net->nqueries++];
    q->node = node->idx;
    q->lookup = lookup;
    q->path = path;
    memcpy(q->id, to->id, CORDON_NODE_ID_LEN);
}

static struct node *node_by_id(struct net *net, const uint8_t id[CORDON_NODE_ID_LEN])
{
    for (size_t i = 0; i < net->n; i++)
        if (memcmp(net->nodes[i].me.id, id, CORDON_NODE_ID_LEN) == 0)
            return &net->nodes[i];
    return NULL;
}

static struct net *net_new(size_t n, const struct cordon_core_config *cfg, uint64_t seed)
{
    struct net *net = calloc(1, sizeof(*net));
    assert_non_null(net);
    net->q = calloc(QUEUE_MAX, sizeof(*net->q));
    net->queries = calloc(QUERY_LOG_MAX, sizeof(*net->queries));
    assert_non_null(net->q);
    assert_non_null(net->queries);
    net->rng = seed;
    net->n = n;
    for (size_t i = 0; i < n; i++) {
        struct node *node = &net->nodes[i];
        uint8_t id[CORDON_NODE_ID_LEN];
        fill_xorshift(&net->rng, id, sizeof(id));
        node->net = net;
        node->idx = i;
        node->me = contact4(id, (uint8_t)(i >> 8), (uint8_t)i);
        struct cordon_core_host host = {.ctx = node, .send = net_send, .random = net_random};
        assert_int_equal(cordon_core_new(cfg, &node->me, &host, &node->core), CORDON_OK);
        cordon_core_set_query_hook(node->core, net_query_hook, node);
    }
    return net;
}

static void net_free(struct net *net)
{
    for (size_t i = 0; i < net->n; i++)
        cordon_core_free(net->nodes[i].core);
    for (size_t i = 0; i < net->qlen; i++)
        free(net->q[(net->qhead + i) % QUEUE_MAX].data);
    free(net->q);
    free(net->queries);
    free(net);
}

static void net_deliver_one(struct net *net)
{
    struct packet p = net->q[net->qhead];
    net->qhead = (net->qhead + 1) % QUEUE_MAX;
    net->qlen--;
    struct node *from = &net->nodes[p.from];
    if (p.kind == PKT_LINK_FAILED) {
        cordon_core_link_failed(from->core, net->now, &p.to);
    } else {
        struct node *to = node_by_id(net, p.to.id);
        if (to == NULL || to->unreachable) {
            /* The handshake fails: the sender hears of it one latency later. */
            struct packet f = {
                .at = net->now + LATENCY_MS, .from = p.from, .kind = PKT_LINK_FAILED, .to = p.to};
            push(net, f);
        } else if (!to->mute) {
            net->delivered++;
            cordon_core_receive(to->core, net->now, &from->me, p.data, p.len);
        }
    }
    free(p.data);
}

/* Runs events in time order until `until`. */
static void net_run(struct net *net, uint64_t until)
{
    for (;;) {
        uint64_t next = UINT64_MAX;
        if (net->qlen > 0)
            next = net->q[net->qhead].at;
        for (size_t i = 0; i < net->n; i++) {
            uint64_t d = cordon_core_next_deadline(net->nodes[i].core);
            if (d < next)
                next = d;
        }
        if (next > until) {
            net->now = until;
            return;
        }
        if (next > net->now)
            net->now = next;
        if (net->qlen > 0 && net->q[net->qhead].at <= net->now) {
            net_deliver_one(net);
            continue;
        }
        for (size_t i = 0; i < net->n; i++)
            if (cordon_core_next_deadline(net->nodes[i].core) <= net->now)
                cordon_core_tick(net->nodes[i].core, net->now);
    }
}

/* Node 0 starts the overlay; every other node joins through it, 20 ms apart. */
static void net_join_all(struct net *net)
{
    assert_int_equal(cordon_core_join(net->nodes[0].core, net->now, NULL, 0), CORDON_OK);
    for (size_t i = 1; i < net->n; i++) {
        net_run(net, net->now + 20);
        assert_int_equal(cordon_core_join(net->nodes[i].core, net->now, &net->nodes[0].me, 1),
                         CORDON_OK);
    }
    net_run(net, net->now + 30000);
}

/* The live node other than `asker` closest to target. */
static const struct node *true_closest(const struct net *net, size_t asker,
                                       const uint8_t target[CORDON_NODE_ID_LEN])
{
    const struct node *best = NULL;
    for (size_t i = 0; i < net->n; i++) {
        const struct node *nd = &net->nodes[i];
        if (i == asker || nd->mute || nd->unreachable)
            continue;
        if (best == NULL || cordon_id_distance_cmp(target, nd->me.id, best->me.id) < 0)
            best = nd;
    }
    return best;
}

/* How many of the k nodes closest to target (leaving out the asker and dead nodes) are in
 * the result. */
static size_t exact_closest(const struct net *net, size_t asker,
                            const uint8_t target[CORDON_NODE_ID_LEN], const struct result *r)
{
    size_t hits = 0;
    for (size_t j = 0; j < r->n; j++) {
        size_t closer = 0;
        for (size_t i = 0; i < net->n; i++) {
            const struct node *nd = &net->nodes[i];
            if (i == asker || nd->mute || nd->unreachable)
                continue;
            if (cordon_id_distance_cmp(target, nd->me.id, r->closest[j].id) < 0)
                closer++;
        }
        if (closer == j)
            hits++;
    }
    return hits;
}

static void print_figures(const char *what, const struct net *net)
{
    printf("%s: %llu lookups, %.1f requests and %.1f rounds each, %.1f%% of results exact\n", what,
           (unsigned long long)net->lookups, (double)net->messages / (double)net->lookups,
           (double)net->rounds / (double)net->lookups,
           100.0 * (double)net->exact / (double)(net->lookups * 20));
}

/* No node is asked twice within one lookup, so never by two of its paths. Returns how many
 * lookups used more than one path. */
static size_t check_disjoint(const struct net *net)
{
    size_t multi = 0;
    for (size_t i = 0; i < net->nqueries; i++) {
        const struct query *a = &net->queries[i];
        bool first = true, other_path = false;
        for (size_t j = 0; j < net->nqueries; j++) {
            const struct query *b = &net->queries[j];
            if (b->node != a->node || b->lookup != a->lookup)
                continue;
            if (j < i)
                first = false;
            if (b->path != a->path)
                other_path = true;
            if (j != i)
                assert_memory_not_equal(a->id, b->id, CORDON_NODE_ID_LEN);
        }
        if (first && other_path)
            multi++;
    }
    return multi;
}

/* Every live node looks up `targets` random IDs (all nodes at once per target); each must
 * get exactly one callback whose closest node is the true closest live node. */
static void lookups_find_true_closest(struct net *net, size_t targets)
{
    struct result *res = calloc(net->n, sizeof(*res));
    assert_non_null(res);
    for (size_t t = 0; t < targets; t++) {
        uint8_t target[CORDON_NODE_ID_LEN];
        fill_xorshift(&net->rng, target, sizeof(target));
        memset(res, 0, net->n * sizeof(*res));
        for (size_t i = 0; i < net->n; i++) {
            if (net->nodes[i].mute || net->nodes[i].unreachable)
                continue;
            assert_int_equal(
                cordon_core_lookup(net->nodes[i].core, net->now, target, on_lookup, &res[i]),
                CORDON_OK);
        }
        net_run(net, net->now + 120000);
        for (size_t i = 0; i < net->n; i++) {
            if (net->nodes[i].mute || net->nodes[i].unreachable)
                continue;
            const struct result *r = &res[i];
            assert_int_equal(r->calls, 1);
            assert_int_equal(r->err, CORDON_OK);
            assert_true(r->n >= 1);
            assert_memory_equal(r->closest[0].id, true_closest(net, i, target)->me.id,
                                CORDON_NODE_ID_LEN);
            for (size_t j = 1; j < r->n; j++)
                assert_true(cordon_id_distance_cmp(target, r->closest[j - 1].id, r->closest[j].id) <
                            0);
            assert_true(r->stats.rounds >= 1);
            assert_true(r->stats.messages >= r->stats.answered + r->stats.failed);
            assert_true(r->stats.answered >= r->n);
            assert_int_equal(status_of(net->nodes[i].core).lookups, 0);
            net->lookups++;
            net->messages += r->stats.messages;
            net->rounds += r->stats.rounds;
            net->exact += exact_closest(net, i, target, r);
        }
    }
    free(res);
}

/* ---- IDs ------------------------------------------------------------------------------- */

static void test_id_metric(void **state)
{
    (void)state;
    uint8_t a[CORDON_NODE_ID_LEN] = {0}, b[CORDON_NODE_ID_LEN] = {0};
    assert_int_equal(cordon_id_cpl(a, b), 256);
    b[0] = 0x80;
    assert_int_equal(cordon_id_cpl(a, b), 0);
    b[0] = 0x01;
    assert_int_equal(cordon_id_cpl(a, b), 7);
    b[0] = 0;
    b[31] = 0x01;
    assert_int_equal(cordon_id_cpl(a, b), 255);
    b[17] = 0x20;
    assert_int_equal(cordon_id_cpl(a, b), 17 * 8 + 2);

    uint8_t t[CORDON_NODE_ID_LEN] = {0}, x[CORDON_NODE_ID_LEN] = {0}, y[CORDON_NODE_ID_LEN] = {0};
    t[0] = 0xf0;
    x[0] = 0xf1; /* distance 0x01 */
    y[0] = 0x70; /* distance 0x80 */
    assert_true(cordon_id_distance_cmp(t, x, y) < 0);
    assert_true(cordon_id_distance_cmp(t, y, x) > 0);
    assert_int_equal(cordon_id_distance_cmp(t, x, x), 0);
    uint8_t d[CORDON_NODE_ID_LEN];
    cordon_id_distance(d, t, y);
    assert_int_equal(d[0], 0x80);

    uint64_t rng = 7;
    uint8_t self[CORDON_NODE_ID_LEN], rnd[CORDON_NODE_ID_LEN], out[CORDON_NODE_ID_LEN];
    fill_xorshift(&rng, self, sizeof(self));
    for (unsigned bucket = 0; bucket < 256; bucket++) {
        fill_xorshift(&rng, rnd, sizeof(rnd));
        cordon_id_in_bucket(out, self, bucket, rnd);
        assert_int_equal(cordon_id_cpl(self, out), bucket);
    }

    struct cordon_addr p = {.family = 4, .ip = {10, 0, 0, 1}, .port = 1};
    struct cordon_addr q = {.family = 4, .ip = {10, 0, 0, 200}, .port = 2};
    assert_true(cordon_addr_same_prefix(&p, &q, 24, 64));
    q.ip[2] = 1;
    assert_false(cordon_addr_same_prefix(&p, &q, 24, 64));
    assert_true(cordon_addr_same_prefix(&p, &q, 16, 64));
    q.ip[2] = 0x80; /* 10.0.128.x: outside 10.0.0.0/17 */
    assert_false(cordon_addr_same_prefix(&p, &q, 17, 64));
    assert_true(cordon_addr_same_prefix(&p, &q, 16, 64));
    struct cordon_addr v6a = {.family = 6, .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 9}};
    struct cordon_addr v6b = {.family = 6, .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 7}};
    assert_true(cordon_addr_same_prefix(&v6a, &v6b, 24, 64));
    assert_false(cordon_addr_same_prefix(&v6a, &v6b, 24, 72));
    assert_false(cordon_addr_same_prefix(&p, &v6a, 0 + 8, 16)); /* families differ */
}

/* ---- routing table --------------------------------------------------------------------- */

static void small_config(struct cordon_core_config *cfg)
{
    cordon_core_config_default(cfg);
    cfg->params.k = 4;
    cfg->params.alpha = 2;
    cfg->params.disjoint_paths = 2;
    cfg->params.replicas = 2;
    cfg->params.per_prefix_contacts = 2;
}

static void test_table_bucket_index(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    small_config(&cfg);
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    unsigned buckets[] = {0, 1, 7, 8, 100, 255};
    for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
        struct cordon_contact c = in_bucket(buckets[i], 0, (uint8_t)i, 0);
        deliver_simple(core, 1, &c, CORDON_MSG_PING, 1);
        assert_non_null(core->buckets[buckets[i]]);
        assert_int_equal(core->buckets[buckets[i]]->n, 1);
    }
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.table_size, 6);
    assert_int_equal(st.buckets_used, 6);
    /* A message from our own ID never enters the table. */
    struct cordon_contact me = contact4(ZERO_ID, 9, 9);
    deliver_simple(core, 1, &me, CORDON_MSG_PING, 2);
    assert_int_equal(status_of(core).table_size, 6);
    assert_int_equal(status_of(core).msgs_in, 7);
    assert_int_equal(status_of(core).msgs_out, 7); /* a PONG each */
    capture_free(&cap, core);
}

static void test_table_capacity_long_lived(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    small_config(&cfg); /* k = 4, fail_evict = 2, one retry */
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    struct cordon_contact c[6];
    for (unsigned i = 0; i < 6; i++) {
        c[i] = in_bucket(0, i, (uint8_t)i, 0);
        deliver_simple(core, 10 + i, &c[i], CORDON_MSG_PING, 100 + i);
    }
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.table_size, 4);
    assert_int_equal(st.buckets_used, 1);
    assert_int_equal(st.refused_full, 2);
    for (unsigned i = 0; i < 6; i++)
        assert_int_equal(contact_in(core, c[i].id), i < 4);
    /* The residents were heard from just now: nobody is pinged for the newcomers. */
    assert_int_equal(count_sent(&cap, 0, CORDON_MSG_PING), 0);

    /* A minute of quiet later c[4] knocks again: one ping to the least-recently-seen
     * resident (c[0]); c[5] knocking with that ping out causes none. */
    uint64_t t = 10 + cfg.check_quiet_ms;
    deliver_simple(core, t, &c[4], CORDON_MSG_PING, 150);
    deliver_simple(core, t + 1, &c[5], CORDON_MSG_PING, 151);
    assert_int_equal(status_of(core).refused_full, 4);
    assert_int_equal(count_sent(&cap, 0, CORDON_MSG_PING), 1);
    size_t ping = last_sent(&cap, c[0].id, CORDON_MSG_PING);
    assert_true(ping != SIZE_MAX);
    assert_int_equal(status_of(core).pending, 1);

    /* c[0] answers: it stays, the newcomers stay out. */
    deliver_simple(core, t + 20, &c[0], CORDON_MSG_PONG, cap.sent[ping].m.txid);
    st = status_of(core);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.table_size, 4);
    assert_false(contact_in(core, c[5].id));

    /* c[5] writes again: now c[1] is the oldest and gets pinged; it never answers. */
    size_t mark = cap.n;
    t += 30;
    deliver_simple(core, t, &c[5], CORDON_MSG_PING, 200);
    assert_int_equal(status_of(core).refused_full, 5);
    assert_int_equal(count_sent(&cap, mark, CORDON_MSG_PING), 1);
    assert_true(last_sent(&cap, c[1].id, CORDON_MSG_PING) >= mark);
    cordon_core_tick(core, t + 1000);        /* retry */
    cordon_core_tick(core, t + 1000 + 2000); /* gives up: one failure, not yet evicted */
    st = status_of(core);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.evictions, 0);
    assert_true(contact_in(core, c[1].id));
    assert_int_equal(cordon_table_find(core, c[1].id)->fails, 1);

    /* A second failure evicts c[1] and the waiting newcomer (c[5]) takes its place. */
    cordon_core_link_failed(core, t + 4000, &c[1]);
    st = status_of(core);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.table_size, 4);
    assert_false(contact_in(core, c[1].id));
    assert_true(contact_in(core, c[5].id));
    assert_false(contact_in(core, c[4].id));
    capture_free(&cap, core);
}

static void test_table_prefix_limit(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    small_config(&cfg); /* two per /24 (IPv4) or /64 (IPv6) per bucket */
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    struct cordon_contact same[3];
    for (unsigned i = 0; i < 3; i++) {
        same[i] = in_bucket(0, i, 7, 7);
        same[i].addr.ip[3] = (uint8_t)(10 + i);
        deliver_simple(core, 1, &same[i], CORDON_MSG_PING, i);
    }
    assert_int_equal(status_of(core).table_size, 2);
    assert_int_equal(status_of(core).refused_prefix, 1);
    assert_false(contact_in(core, same[2].id));
    /* Same /24 in another bucket: counted per bucket, so admitted. */
    struct cordon_contact other = in_bucket(1, 0, 7, 7);
    deliver_simple(core, 1, &other, CORDON_MSG_PING, 9);
    assert_true(contact_in(core, other.id));
    /* Same bucket, next /24: admitted. */
    struct cordon_contact next = in_bucket(0, 3, 7, 8);
    deliver_simple(core, 1, &next, CORDON_MSG_PING, 10);
    assert_true(contact_in(core, next.id));
    /* IPv6: the /64 is what counts. */
    struct cordon_contact v6[3];
    for (unsigned i = 0; i < 3; i++) {
        v6[i] = in_bucket(2, i, 0, 0);
        memset(&v6[i].addr, 0, sizeof(v6[i].addr));
        v6[i].addr.family = 6;
        v6[i].addr.ip[0] = 0x20;
        v6[i].addr.ip[1] = 0x01;
        v6[i].addr.ip[15] = (uint8_t)(i + 1);
        v6[i].addr.port = 4000;
        deliver_simple(core, 1, &v6[i], CORDON_MSG_PING, 20 + i);
    }
    assert_int_equal(status_of(core).refused_prefix, 2);
    assert_true(contact_in(core, v6[0].id));
    assert_true(contact_in(core, v6[1].id));
    assert_false(contact_in(core, v6[2].id));
    assert_int_equal(status_of(core).table_size, 6);
    capture_free(&cap, core);
}

static void test_table_eviction_after_failures(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    small_config(&cfg);
    cfg.fail_evict = 3;
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    struct cordon_contact a = in_bucket(3, 1, 1, 1);
    deliver_simple(core, 1, &a, CORDON_MSG_PING, 1);
    assert_true(contact_in(core, a.id));
    /* Failures must be consecutive: a message in between clears them. */
    cordon_core_link_failed(core, 2, &a);
    cordon_core_link_failed(core, 3, &a);
    deliver_simple(core, 4, &a, CORDON_MSG_PING, 2);
    assert_int_equal(cordon_table_find(core, a.id)->fails, 0);
    cordon_core_link_failed(core, 5, &a);
    cordon_core_link_failed(core, 6, &a);
    assert_true(contact_in(core, a.id));
    assert_int_equal(status_of(core).evictions, 0);
    cordon_core_link_failed(core, 7, &a);
    assert_false(contact_in(core, a.id));
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.table_size, 0);
    assert_int_equal(st.buckets_used, 0); /* the empty bucket is released */
    /* Nodes named in a NODES answer are not admitted by it. */
    struct cordon_contact b = in_bucket(5, 1, 2, 2);
    struct cordon_contact named = in_bucket(6, 1, 3, 3);
    deliver_simple(core, 8, &b, CORDON_MSG_PING, 3);
    uint8_t target[CORDON_NODE_ID_LEN] = {0};
    struct result r = {0};
    assert_int_equal(cordon_core_lookup(core, 9, target, on_lookup, &r), CORDON_OK);
    size_t q = last_sent(&cap, b.id, CORDON_MSG_FIND_NODE);
    assert_true(q != SIZE_MAX);
    struct cordon_msg ans;
    memset(&ans, 0, sizeof(ans));
    ans.type = CORDON_MSG_NODES;
    ans.flags = CORDON_MSG_FLAG_RESPONSE;
    ans.txid = cap.sent[q].m.txid;
    ans.u.nodes.count = 1;
    ans.u.nodes.contacts[0] = named;
    deliver(core, 10, &b, &ans);
    assert_false(contact_in(core, named.id));
    assert_true(last_sent(&cap, named.id, CORDON_MSG_FIND_NODE) != SIZE_MAX); /* a candidate */
    capture_free(&cap, core); /* the lookup is still running: no callback */
    assert_int_equal(r.calls, 0);
}

/* ---- RPC ------------------------------------------------------------------------------- */

static void test_rpc_timeouts_and_backoff(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.rpc_retries = 2;
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    struct cordon_contact b = in_bucket(0, 1, 1, 1);
    assert_int_equal(cordon_core_next_deadline(core), UINT64_MAX);
    assert_int_equal(cordon_core_join(core, 0, &b, 1), CORDON_OK);
    assert_int_equal(cap.n, 1);
    assert_int_equal(cap.sent[0].m.type, CORDON_MSG_PING);
    uint32_t txid = cap.sent[0].m.txid;
    assert_int_equal(cordon_core_next_deadline(core), 1000);
    cordon_core_tick(core, 999);
    assert_int_equal(cap.n, 1);
    cordon_core_tick(core, 1000);
    assert_int_equal(cap.n, 2); /* retry, same txid, timeout doubled */
    assert_int_equal(cap.sent[1].m.txid, txid);
    assert_int_equal(cordon_core_next_deadline(core), 3000);
    cordon_core_tick(core, 3000);
    assert_int_equal(cap.n, 3);
    assert_int_equal(cordon_core_next_deadline(core), 7000);
    assert_int_equal(status_of(core).timeouts, 0);
    cordon_core_tick(core, 7000);
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.lookups, 0); /* the self-lookup found an empty table and ended */
    assert_int_equal(st.table_size, 0);
    assert_int_equal(cap.n, 3);
    /* Only the refresh timer is left: refresh_ms after the join, and up to half again. */
    assert_true(cordon_core_next_deadline(core) >= cfg.refresh_ms);
    assert_true(cordon_core_next_deadline(core) < cfg.refresh_ms + cfg.refresh_ms / 2);

    /* A late answer to a retried request is accepted. */
    assert_int_equal(cordon_core_join(core, 8000, &b, 1), CORDON_OK);
    uint32_t t2 = cap.sent[cap.n - 1].m.txid;
    cordon_core_tick(core, 9000);
    assert_int_equal(cap.sent[cap.n - 1].m.txid, t2);
    deliver_simple(core, 9500, &b, CORDON_MSG_PONG, t2);
    st = status_of(core);
    assert_int_equal(st.table_size, 1);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.dropped_unsolicited, 0);
    capture_free(&cap, core);
}

/* The watch's timeout (RFC 6298's estimator): a second before any sample, then SRTT + 4 x
 * RTTVAR within watch_timeout_min_ms and rpc_timeout_ms; fast to grow when the round trip
 * jumps, slow to shrink; only answers to first tries are samples (Karn), and only the
 * watch's pings wait less than rpc_timeout_ms. */
static void test_rtt_watch_timeout(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.watch_timeout_min_ms = 10;
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    struct cordon_contact a = in_bucket(3, 1, 1, 1);
    assert_int_equal(cordon_table_watch_timeout(core, a.id), 1000); /* not in the table */
    deliver_simple(core, 1, &a, CORDON_MSG_PING, 1);
    assert_int_equal(cordon_table_watch_timeout(core, a.id), 1000); /* no sample yet */
    cordon_table_rtt(core, a.id, 100);
    assert_int_equal(cordon_table_watch_timeout(core, a.id), 300); /* 100 + 4 x 50 */
    for (int i = 0; i < 40; i++)
        cordon_table_rtt(core, a.id, 100);
    /* The variance decays to the integer fixed point of x - x / 4 (3). */
    assert_int_equal(cordon_table_watch_timeout(core, a.id), 103);
    cordon_table_rtt(core, a.id, 500);
    assert_int_equal(cordon_table_watch_timeout(core, a.id), 553); /* 150 + (3 + 400) */
    cordon_table_rtt(core, a.id, UINT64_MAX); /* saturates, and rpc_timeout_ms caps it */
    assert_int_equal(cordon_table_watch_timeout(core, a.id), 1000);
    capture_free(&cap, core);

    /* Through the requests in flight: a PONG 30 ms after the first try is a sample; one
     * after a retry is not (which try it answers is unknown). */
    cfg.watch_timeout_min_ms = 200;
    core = capture_core(&cap, &cfg);
    struct cordon_contact b = in_bucket(0, 1, 1, 1);
    assert_int_equal(cordon_core_join(core, 0, &b, 1), CORDON_OK);
    deliver_simple(core, 30, &b, CORDON_MSG_PONG, cap.sent[0].m.txid);
    assert_int_equal(status_of(core).table_size, 1);
    assert_true(cordon_table_find(core, b.id)->has_rtt);
    assert_int_equal(cordon_table_find(core, b.id)->srtt8, 8 * 30);
    assert_int_equal(cordon_table_watch_timeout(core, b.id), 200); /* 30 + 60, the floor */
    /* Any other request waits rpc_timeout_ms, whatever the estimate: the self-lookup's
     * FIND_NODE to b, sent with the PONG, which an empty NODES then ends. */
    size_t q = last_sent(&cap, b.id, CORDON_MSG_FIND_NODE);
    assert_true(q != SIZE_MAX);
    assert_int_equal(cordon_core_next_deadline(core), 1030);
    struct cordon_msg nodes;
    memset(&nodes, 0, sizeof(nodes));
    nodes.type = CORDON_MSG_NODES;
    nodes.flags = CORDON_MSG_FLAG_RESPONSE;
    nodes.txid = cap.sent[q].m.txid;
    deliver(core, 40, &b, &nodes);
    assert_int_equal(cordon_table_find(core, b.id)->srtt8, 8 * 30 - 30 + 10); /* 7/8 30 + 10 */
    assert_int_equal(cordon_core_join(core, 8000, &b, 1), CORDON_OK);
    uint32_t t2 = cap.sent[cap.n - 1].m.txid;
    cordon_core_tick(core, 9000); /* the retry */
    assert_int_equal(cap.sent[cap.n - 1].m.txid, t2);
    deliver_simple(core, 9990, &b, CORDON_MSG_PONG, t2);
    assert_int_equal(status_of(core).dropped_unsolicited, 0);
    assert_int_equal(cordon_table_find(core, b.id)->srtt8, 8 * 30 - 30 + 10);
    capture_free(&cap, core);
}

static void test_rpc_unsolicited(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    struct cordon_contact b = in_bucket(0, 1, 1, 1);
    struct cordon_contact c = in_bucket(0, 2, 2, 2);
    assert_int_equal(cordon_core_join(core, 0, &b, 1), CORDON_OK);
    uint32_t txid = cap.sent[0].m.txid;

    deliver_simple(core, 1, &b, CORDON_MSG_PONG, txid + 1); /* wrong txid */
    assert_int_equal(status_of(core).dropped_unsolicited, 1);
    deliver_simple(core, 2, &c, CORDON_MSG_PONG, txid); /* right txid, another node */
    assert_int_equal(status_of(core).dropped_unsolicited, 2);
    assert_int_equal(status_of(core).pending, 1); /* still waiting for b */
    struct cordon_msg nodes;
    memset(&nodes, 0, sizeof(nodes));
    nodes.type = CORDON_MSG_NODES;
    nodes.flags = CORDON_MSG_FLAG_RESPONSE;
    nodes.txid = txid;
    deliver(core, 3, &b, &nodes); /* NODES does not answer a PING */
    assert_int_equal(status_of(core).dropped_unsolicited, 3);
    assert_int_equal(status_of(core).table_size, 0); /* dropped answers admit nobody */

    deliver_simple(core, 4, &b, CORDON_MSG_PONG, txid);
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.dropped_unsolicited, 3);
    assert_int_equal(st.table_size, 1);
    /* The join ping is answered: the self-lookup asks b. */
    assert_int_equal(st.pending, 1);
    assert_int_equal(cap.sent[cap.n - 1].m.type, CORDON_MSG_FIND_NODE);
    deliver_simple(core, 5, &b, CORDON_MSG_PONG, txid); /* duplicate */
    assert_int_equal(status_of(core).dropped_unsolicited, 4);
    deliver_simple(core, 6, &c, CORDON_MSG_PONG, 12345); /* never asked */
    assert_int_equal(status_of(core).dropped_unsolicited, 5);
    assert_int_equal(status_of(core).table_size, 1);

    /* Malformed bytes are counted apart. */
    uint8_t junk[3] = {1, 2, 3};
    cordon_core_receive(core, 7, &b, junk, sizeof(junk));
    st = status_of(core);
    assert_int_equal(st.dropped_malformed, 1);
    assert_int_equal(st.msgs_in, 7);

    /* An ERROR "rate limited" answer does not count against the node: we asked too much.
     * Two in a row (fail_evict) leave it in the table. */
    for (int i = 0; i < 2; i++) {
        size_t mark = cap.n;
        assert_int_equal(cordon_core_join(core, 10 + (uint64_t)i, &b, 1), CORDON_OK);
        assert_int_equal(cap.n, mark + 1);
        deliver_simple(core, 11 + (uint64_t)i, &b, CORDON_MSG_ERROR, cap.sent[mark].m.txid);
    }
    st = status_of(core);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.table_size, 1);
    assert_int_equal(st.dropped_unsolicited, 5);
    capture_free(&cap, core);
}

static void test_rpc_pending_cap(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    /* Twenty contacts that will never answer, 64 lookups of 4 paths x 3 requests: more than
     * CORDON_PENDING_MAX requests want to be in flight. */
    for (unsigned i = 0; i < 20; i++) {
        struct cordon_contact c = in_bucket(i % 8, i, (uint8_t)i, 0);
        deliver_simple(core, 0, &c, CORDON_MSG_PING, i);
    }
    assert_int_equal(status_of(core).table_size, 20);
    struct result r[CORDON_LOOKUPS_MAX + 1];
    memset(r, 0, sizeof(r));
    uint64_t rng = 99;
    for (size_t i = 0; i < CORDON_LOOKUPS_MAX; i++) {
        uint8_t target[CORDON_NODE_ID_LEN];
        fill_xorshift(&rng, target, sizeof(target));
        assert_int_equal(cordon_core_lookup(core, 1, target, on_lookup, &r[i]), CORDON_OK);
    }
    uint8_t target[CORDON_NODE_ID_LEN] = {1};
    assert_int_equal(cordon_core_lookup(core, 1, target, on_lookup, &r[CORDON_LOOKUPS_MAX]),
                     CORDON_ERR_BUSY);
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.pending, CORDON_PENDING_MAX);
    assert_int_equal(st.lookups, CORDON_LOOKUPS_MAX);
    /* Time runs out for everyone; every lookup ends exactly once, with nothing found. */
    uint64_t now = 1;
    while (cordon_core_next_deadline(core) < cfg.refresh_ms) {
        now = cordon_core_next_deadline(core);
        cordon_core_tick(core, now);
    }
    for (size_t i = 0; i < CORDON_LOOKUPS_MAX; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].err, CORDON_ERR_NOT_FOUND);
        assert_int_equal(r[i].n, 0);
        assert_int_equal(r[i].stats.answered, 0);
        assert_true(r[i].stats.failed >= 1);
    }
    assert_int_equal(r[CORDON_LOOKUPS_MAX].calls, 0);
    st = status_of(core);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.lookups, 0);
    assert_int_equal(st.table_size, 0); /* all failed fail_evict times */
    assert_int_equal(st.evictions, 20);
    assert_true(now < 60000);
    capture_free(&cap, core);
}

/* ---- lookups --------------------------------------------------------------------------- */

static void test_lookup_empty_table_and_busy(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    uint8_t target[CORDON_NODE_ID_LEN] = {5};
    struct result r = {0};
    assert_int_equal(cordon_core_lookup(core, 0, target, on_lookup, &r), CORDON_OK);
    assert_int_equal(r.calls, 1); /* from inside the call: nothing to ask */
    assert_int_equal(r.err, CORDON_ERR_NOT_FOUND);
    assert_int_equal(r.stats.messages, 0);
    assert_int_equal(cordon_core_lookup(core, 0, target, NULL, NULL), CORDON_ERR_INVAL);

    /* A forgotten node leaves running lookups: they end, each once. */
    struct cordon_contact b = in_bucket(0, 1, 1, 1);
    deliver_simple(core, 1, &b, CORDON_MSG_PING, 1);
    struct result rs[3];
    memset(rs, 0, sizeof(rs));
    for (int i = 0; i < 3; i++)
        assert_int_equal(cordon_core_lookup(core, 2, target, on_lookup, &rs[i]), CORDON_OK);
    assert_int_equal(status_of(core).pending, 3);
    size_t q = last_sent(&cap, b.id, CORDON_MSG_FIND_NODE);
    cordon_core_forget(core, b.id);
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.table_size, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.lookups, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rs[i].calls, 1);
        assert_int_equal(rs[i].err, CORDON_ERR_NOT_FOUND);
        assert_int_equal(rs[i].stats.failed, 1);
    }
    /* Its late answer is unsolicited now. */
    struct cordon_msg ans;
    memset(&ans, 0, sizeof(ans));
    ans.type = CORDON_MSG_NODES;
    ans.flags = CORDON_MSG_FLAG_RESPONSE;
    ans.txid = cap.sent[q].m.txid;
    deliver(core, 3, &b, &ans);
    assert_int_equal(status_of(core).dropped_unsolicited, 1);
    capture_free(&cap, core);
}

static void test_lookup_network(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg); /* k = 20, alpha = 3, d = 4 */
    struct net *net = net_new(64, &cfg, 0x1234567887654321ULL);
    net_join_all(net);
    for (size_t i = 0; i < net->n; i++) {
        struct cordon_core_status st = status_of(net->nodes[i].core);
        assert_true(st.table_size >= 10);
        assert_int_equal(st.lookups, 0);
        assert_int_equal(st.pending, 0);
        assert_int_equal(st.dropped_unsolicited, 0);
        assert_int_equal(st.dropped_rate_node, 0);
        assert_int_equal(st.timeouts, 0);
    }
    net->nqueries = 0;
    lookups_find_true_closest(net, 8);
    /* No node was asked twice in one lookup (so never by two paths), and lookups did use
     * several paths. */
    assert_true(check_disjoint(net) > 0);
    print_figures("d = 4", net);
    net_free(net);
}

/* A find of an existing node ends when that node answers: the node comes first in the
 * result, for fewer messages than the full lookup of the same target from the same origin.
 * A find of an ID that no node has is a full lookup. */
static void test_find_node(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct net *net = net_new(64, &cfg, 0xfeedULL);
    net_join_all(net);
    uint64_t full_msgs = 0, find_msgs = 0;
    size_t in_table = 0, in_table_others = 0;
    for (size_t t = 0; t < 16; t++) {
        size_t origin = (t * 7) % net->n, target = (t * 13 + 5) % net->n;
        if (origin == target)
            continue;
        const uint8_t *id = net->nodes[target].me.id;
        struct result full = {0}, find = {0};
        assert_int_equal(
            cordon_core_lookup(net->nodes[origin].core, net->now, id, on_lookup, &full), CORDON_OK);
        net_run(net, net->now + 120000);
        bool in_table_before = cordon_table_find(net->nodes[origin].core, id) != NULL;
        in_table += in_table_before;
        assert_int_equal(
            cordon_core_find_node(net->nodes[origin].core, net->now, id, on_lookup, &find),
            CORDON_OK);
        net_run(net, net->now + 120000);
        assert_int_equal(full.calls, 1);
        assert_int_equal(find.calls, 1);
        assert_int_equal(find.err, CORDON_OK);
        assert_memory_equal(find.closest[0].id, id, CORDON_NODE_ID_LEN);
        assert_memory_equal(full.closest[0].id, id, CORDON_NODE_ID_LEN);
        for (size_t j = 1; j < find.n; j++)
            assert_true(cordon_id_distance_cmp(id, find.closest[j - 1].id, find.closest[j].id) < 0);
        assert_true(find.stats.messages <= full.stats.messages);
        /* A node already in the origin's table is asked directly, and nothing else is. */
        if (in_table_before)
            assert_int_equal(find.stats.messages, 1);
        else
            in_table_others++;
        assert_int_equal(status_of(net->nodes[origin].core).lookups, 0);
        full_msgs += full.stats.messages;
        find_msgs += find.stats.messages;
    }
    /* Both cases were seen (a full lookup of a node puts it in the origin's table; the
     * seed makes some targets already be there). Over the 16 targets a find sends at most
     * a fifth of the messages: one path request at a time, and the target as soon as known. */
    assert_true(in_table > 0);
    assert_true(in_table_others > 0 || in_table == 16);
    assert_true(5 * find_msgs <= full_msgs);
    printf("find_node: %llu messages for 16 finds (%zu targets in the origin's table), %llu for "
           "the same full lookups\n",
           (unsigned long long)find_msgs, in_table, (unsigned long long)full_msgs);

    /* A target in the table that does not answer: the paths go on without it, the find
     * ends, and the target is not in its result. */
    size_t quiet = 0;
    while (quiet < net->n &&
           (quiet == 3 || cordon_table_find(net->nodes[3].core, net->nodes[quiet].me.id) == NULL))
        quiet++;
    assert_true(quiet < net->n);
    net->nodes[quiet].mute = true;
    struct result q = {0};
    assert_int_equal(
        cordon_core_find_node(net->nodes[3].core, net->now, net->nodes[quiet].me.id, on_lookup, &q),
        CORDON_OK);
    net_run(net, net->now + 120000);
    assert_int_equal(q.calls, 1);
    assert_int_equal(q.err, CORDON_OK);
    assert_true(q.n > 0);
    for (size_t j = 0; j < q.n; j++)
        assert_memory_not_equal(q.closest[j].id, net->nodes[quiet].me.id, CORDON_NODE_ID_LEN);
    assert_true(q.stats.failed >= 1);
    assert_true(q.stats.messages > 1);
    net->nodes[quiet].mute = false;

    /* No node has this ID: the find runs to the end and finds the true closest. */
    uint8_t nobody[CORDON_NODE_ID_LEN];
    fill_xorshift(&net->rng, nobody, sizeof(nobody));
    struct result r = {0};
    assert_int_equal(cordon_core_find_node(net->nodes[3].core, net->now, nobody, on_lookup, &r),
                     CORDON_OK);
    net_run(net, net->now + 120000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, CORDON_OK);
    assert_memory_equal(r.closest[0].id, true_closest(net, 3, nobody)->me.id, CORDON_NODE_ID_LEN);
    net_free(net);
}

static void test_lookup_single_path(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.params.disjoint_paths = 1;
    struct net *net = net_new(64, &cfg, 42);
    net_join_all(net);
    net->nqueries = 0;
    lookups_find_true_closest(net, 4);
    assert_int_equal(check_disjoint(net), 0);
    for (size_t i = 0; i < net->nqueries; i++)
        assert_int_equal(net->queries[i].path, 0);
    print_figures("d = 1", net);
    net_free(net);
}

static void test_lookup_with_silent_nodes(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct net *net = net_new(64, &cfg, 777);
    net_join_all(net);
    /* Eight nodes drop everything; four more cannot be reached at all. */
    for (size_t i = 1; i <= 8; i++)
        net->nodes[i * 7].mute = true;
    for (size_t i = 1; i <= 4; i++)
        net->nodes[i * 7 + 3].unreachable = true;
    net->nqueries = 0;
    lookups_find_true_closest(net, 6);
    check_disjoint(net);
    uint64_t timeouts = 0;
    for (size_t i = 0; i < net->n; i++)
        timeouts += status_of(net->nodes[i].core).timeouts;
    assert_true(timeouts > 0);
    print_figures("d = 4, 12 of 64 nodes dead", net);
    net_free(net);
}

/* ---- limiters -------------------------------------------------------------------------- */

static void test_limits_per_node(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg); /* requests 50/s, burst 100; routing 20/s, burst 40 */
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    struct cordon_contact x = in_bucket(0, 1, 1, 1), y = in_bucket(1, 1, 2, 2);
    uint8_t target[CORDON_NODE_ID_LEN] = {0x42};
    for (uint32_t i = 0; i < 50; i++)
        deliver_find(core, 1000, &x, i, target);
    assert_int_equal(count_sent(&cap, 0, CORDON_MSG_NODES), 40);
    assert_int_equal(count_sent(&cap, 0, CORDON_MSG_ERROR), 10);
    for (size_t i = 40; i < 50; i++) {
        assert_int_equal(cap.sent[i].m.type, CORDON_MSG_ERROR);
        assert_int_equal(cap.sent[i].m.u.error.code, CORDON_MSGERR_RATE_LIMITED);
        assert_int_equal(cap.sent[i].m.txid, i);
    }
    assert_int_equal(status_of(core).dropped_rate_node, 10);
    /* The refused routing queries still cost request tokens: 50 of 100 are left. */
    size_t mark = cap.n;
    for (uint32_t i = 0; i < 60; i++)
        deliver_simple(core, 1000, &x, CORDON_MSG_PING, 1000 + i);
    assert_int_equal(count_sent(&cap, mark, CORDON_MSG_PONG), 50);
    assert_int_equal(count_sent(&cap, mark, CORDON_MSG_ERROR), 10);
    assert_int_equal(status_of(core).dropped_rate_node, 20);
    /* Another node is not affected. */
    mark = cap.n;
    deliver_simple(core, 1000, &y, CORDON_MSG_PING, 7);
    assert_int_equal(count_sent(&cap, mark, CORDON_MSG_PONG), 1);
    /* One second later: 20 routing tokens, 50 request tokens. */
    mark = cap.n;
    for (uint32_t i = 0; i < 25; i++)
        deliver_find(core, 2000, &x, 2000 + i, target);
    assert_int_equal(count_sent(&cap, mark, CORDON_MSG_NODES), 20);
    assert_int_equal(count_sent(&cap, mark, CORDON_MSG_ERROR), 5);
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.dropped_rate_node, 25);
    assert_int_equal(st.dropped_rate_global, 0);
    assert_int_equal(st.msgs_in, 136);
    assert_int_equal(st.msgs_out, 136);
    /* NODES answers never name the asker, and hold what the table has (y). */
    const struct cordon_msg *last = &cap.sent[mark].m;
    assert_int_equal(last->u.nodes.count, 1);
    assert_memory_equal(last->u.nodes.contacts[0].id, y.id, CORDON_NODE_ID_LEN);
    capture_free(&cap, core);
}

static void test_limits_global(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.params.inbound_rate = 10; /* ten messages a second, ten deep */
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    for (unsigned i = 0; i < 15; i++) {
        struct cordon_contact c = in_bucket(i % 4, i, (uint8_t)i, 0);
        deliver_simple(core, 1000, &c, CORDON_MSG_PING, i);
    }
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.msgs_in, 15);
    assert_int_equal(st.dropped_rate_global, 5);
    assert_int_equal(cap.n, 10); /* dropped silently: no answer */
    assert_int_equal(st.dropped_rate_node, 0);
    assert_int_equal(st.table_size, 10);
    /* Half a second refills five; junk pays too, before it is decoded. */
    uint8_t junk[2] = {0};
    struct cordon_contact c = in_bucket(9, 1, 99, 0);
    cordon_core_receive(core, 1500, &c, junk, sizeof(junk));
    for (unsigned i = 0; i < 6; i++)
        deliver_simple(core, 1500, &c, CORDON_MSG_PING, 100 + i);
    st = status_of(core);
    assert_int_equal(st.dropped_malformed, 1);
    assert_int_equal(st.dropped_rate_global, 7);
    assert_int_equal(cap.n, 14);
    capture_free(&cap, core);
}

static void test_limits_crowd(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    uint8_t target[CORDON_NODE_ID_LEN] = {0x42};
    /* A hot spot: 200 nodes ask at once, more than the per-node tables track. The ones
     * they cannot track share the overflow budget, so all are served. */
    for (unsigned i = 0; i < 200; i++) {
        struct cordon_contact c = in_bucket(i % 100, i, (uint8_t)(i >> 8), (uint8_t)i);
        deliver_find(core, 1000, &c, i, target);
        assert_int_equal(cap.n, 1);
        assert_int_equal(cap.sent[0].m.type, CORDON_MSG_NODES);
        cap.n = 0;
    }
    assert_int_equal(status_of(core).dropped_rate_node, 0);
    capture_free(&cap, core);

    /* A crowd larger than the overflow share: inbound_rate 100 lets 100 through, the first
     * CORDON_RATE_NODES_MAX have buckets of their own, the rest share 100 / 4 = 25 tokens,
     * two per routing query (one per table). */
    cfg.params.inbound_rate = 100;
    core = capture_core(&cap, &cfg);
    for (unsigned i = 0; i < 120; i++) {
        struct cordon_contact c = in_bucket(i % 100, i, (uint8_t)(i >> 8), (uint8_t)i);
        deliver_find(core, 1000, &c, i, target);
    }
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.dropped_rate_global, 20);
    assert_int_equal(count_sent(&cap, 0, CORDON_MSG_NODES), CORDON_RATE_NODES_MAX + 12);
    assert_int_equal(count_sent(&cap, 0, CORDON_MSG_ERROR), 100 - CORDON_RATE_NODES_MAX - 12);
    assert_int_equal(st.dropped_rate_node, 100 - CORDON_RATE_NODES_MAX - 12);
    capture_free(&cap, core);
}

/* An honest burst: one node runs 256 lookups, CORDON_LOOKUPS_MAX at a time, over 32 nodes:
 * about 5,000 FIND_NODEs, some 170 to every node, four times the routing burst each
 * receiver allows one sender. The sender paces itself to those limits (limits.c), so no
 * receiver answers RATE_LIMITED and every lookup finds the true closest node and 3
 * closest. Without pacing, the receivers refused hundreds of them and lookups ended
 * without the nodes that refused: a put then lands where a reader does not look. */
#define BURST_LOOKUPS 256
struct burst {
    struct net *net;
    size_t started, done;
    uint64_t last_ms; /* when the last lookup ended */
    uint8_t target[BURST_LOOKUPS][CORDON_NODE_ID_LEN];
    struct result res[BURST_LOOKUPS];
};

static void burst_start(struct burst *b);

static void on_burst_lookup(void *arg, cordon_err err, const struct cordon_contact *closest,
                            size_t n, const struct cordon_lookup_stats *stats)
{
    struct result *r = arg;
    on_lookup(r, err, closest, n, stats);
    struct burst *b = (struct burst *)r->ctx;
    b->done++;
    b->last_ms = b->net->now;
    burst_start(b); /* from inside the callback: the slot it left is free */
}

static void burst_start(struct burst *b)
{
    while (b->started < BURST_LOOKUPS) {
        size_t i = b->started;
        fill_xorshift(&b->net->rng, b->target[i], CORDON_NODE_ID_LEN);
        b->res[i].ctx = b;
        cordon_err err = cordon_core_lookup(b->net->nodes[0].core, b->net->now, b->target[i],
                                            on_burst_lookup, &b->res[i]);
        if (err == CORDON_ERR_BUSY)
            return;
        assert_int_equal(err, CORDON_OK);
        b->started++;
    }
}

static void test_limits_paced_burst(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg); /* routing 20/s, burst 40; requests 50/s, burst 100 */
    struct net *net = net_new(32, &cfg, 0x5eed0fb0757ULL);
    net_join_all(net);
    struct burst *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    b->net = net;
    uint64_t t0 = net->now;
    burst_start(b);
    assert_int_equal(b->started, CORDON_LOOKUPS_MAX);
    net_run(net, net->now + 600000);
    assert_int_equal(b->done, BURST_LOOKUPS);
    uint64_t messages = 0;
    size_t exact3 = 0;
    for (size_t i = 0; i < BURST_LOOKUPS; i++) {
        const struct result *r = &b->res[i];
        assert_int_equal(r->calls, 1);
        assert_int_equal(r->err, CORDON_OK);
        assert_int_equal(r->stats.failed, 0);
        assert_memory_equal(r->closest[0].id, true_closest(net, 0, b->target[i])->me.id,
                            CORDON_NODE_ID_LEN);
        messages += r->stats.messages;
        if (exact_closest(net, 0, b->target[i], r) >= 3)
            exact3++;
    }
    assert_int_equal(exact3, BURST_LOOKUPS);
    struct cordon_core_status origin = status_of(net->nodes[0].core);
    assert_true(origin.paced > 0);
    assert_int_equal(origin.retried_limited, 0);
    assert_int_equal(origin.timeouts, 0);
    for (size_t i = 0; i < net->n; i++) {
        struct cordon_core_status st = status_of(net->nodes[i].core);
        assert_int_equal(st.dropped_rate_node, 0);
        assert_int_equal(st.dropped_rate_global, 0);
    }
    printf("paced burst: %d lookups, %llu FIND_NODEs, %llu held by pacing, done in %llu ms\n",
           BURST_LOOKUPS, (unsigned long long)messages, (unsigned long long)origin.paced,
           (unsigned long long)(b->last_ms - t0));
    free(b);
    net_free(net);
}

static void test_limits_churn(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.params.churn_max_rejoins = 2;
    cfg.params.churn_window = 60;
    cfg.fail_evict = 1;
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    struct cordon_contact x = in_bucket(4, 1, 1, 1);
    uint64_t now = 1000;
    deliver_simple(core, now, &x, CORDON_MSG_PING, 1); /* first admission: free */
    for (int round = 0; round < 2; round++) {
        assert_true(contact_in(core, x.id));
        cordon_core_link_failed(core, ++now, &x);
        assert_false(contact_in(core, x.id));
        deliver_simple(core, ++now, &x, CORDON_MSG_PING, 2); /* re-admission */
    }
    uint64_t first_rejoin = 1002;
    assert_true(contact_in(core, x.id));
    cordon_core_link_failed(core, ++now, &x);
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.evictions, 3);
    assert_int_equal(st.refused_churn, 0);
    deliver_simple(core, ++now, &x, CORDON_MSG_PING, 3); /* third re-admission: refused */
    assert_false(contact_in(core, x.id));
    assert_int_equal(status_of(core).refused_churn, 1);
    assert_int_equal(cap.n, 4); /* it is still served, only kept out of the table */
    deliver_simple(core, first_rejoin + 59999, &x, CORDON_MSG_PING, 4);
    assert_int_equal(status_of(core).refused_churn, 2);
    assert_false(contact_in(core, x.id));
    deliver_simple(core, first_rejoin + 60000, &x, CORDON_MSG_PING, 5); /* window passed */
    assert_true(contact_in(core, x.id));
    assert_int_equal(status_of(core).refused_churn, 2);

    /* The limiter remembers CORDON_CHURN_TRACKED_MAX IDs and forgets the oldest first. */
    cfg.params.churn_max_rejoins = 1;
    struct capture cap2;
    cordon_core *c2 = capture_core(&cap2, &cfg);
    struct cordon_contact f = in_bucket(0, 0xffff, 1, 1);
    now = 1000;
    deliver_simple(c2, now, &f, CORDON_MSG_PING, 1);
    cordon_core_link_failed(c2, ++now, &f);
    deliver_simple(c2, ++now, &f, CORDON_MSG_PING, 1); /* the one allowed rejoin */
    cordon_core_link_failed(c2, ++now, &f);
    deliver_simple(c2, ++now, &f, CORDON_MSG_PING, 1);
    assert_int_equal(status_of(c2).refused_churn, 1);
    for (unsigned i = 0; i < CORDON_CHURN_TRACKED_MAX; i++) {
        struct cordon_contact o = in_bucket(1 + i % 200, i, (uint8_t)(i >> 8), (uint8_t)i);
        deliver_simple(c2, ++now, &o, CORDON_MSG_PING, 1);
        cordon_core_link_failed(c2, ++now, &o);
    }
    assert_int_equal(c2->nchurn, CORDON_CHURN_TRACKED_MAX);
    deliver_simple(c2, ++now, &f, CORDON_MSG_PING, 1); /* forgotten by the limiter */
    assert_true(contact_in(c2, f.id));
    assert_int_equal(status_of(c2).refused_churn, 1);
    capture_free(&cap2, c2);
    capture_free(&cap, core);
}

/* ---- join and refresh ------------------------------------------------------------------ */

static void test_refresh_one_lookup_at_a_time(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.refresh_ms = 60000;
    cfg.fail_evict = 10;
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    struct cordon_contact c[3];
    for (unsigned b = 0; b < 3; b++) {
        c[b] = in_bucket(b, 1, (uint8_t)b, 0);
        deliver_simple(core, 0, &c[b], CORDON_MSG_PING, b);
    }
    cap.n = 0;
    /* No bootstrap: the self-lookup starts at once, asks all three; nobody answers. */
    assert_int_equal(cordon_core_join(core, 0, NULL, 0), CORDON_OK);
    assert_int_equal(count_sent(&cap, 0, CORDON_MSG_FIND_NODE), 3);
    assert_int_equal(status_of(core).lookups, 1);
    /* Then the join's refresh pass: one lookup into each bucket farther than the deepest in
     * use (2), that is bucket 0 and then bucket 1, never two at once. */
    for (int guard = 0; guard < 100 && cordon_core_next_deadline(core) < 60000; guard++) {
        assert_true(status_of(core).lookups <= 1);
        cordon_core_tick(core, cordon_core_next_deadline(core));
    }
    assert_int_equal(status_of(core).lookups, 0);
    assert_int_equal(status_of(core).timeouts, 3 + 3 + 3);
    assert_int_equal(cap.n, 3 * 6); /* three lookups, each 3 first tries and 3 retries */
    unsigned order[2], seen = 0;
    for (size_t i = 6; i < cap.n && seen < 2; i++) {
        unsigned b = cordon_id_cpl(ZERO_ID, cap.sent[i].m.u.find_node.target);
        if (seen == 0 || order[seen - 1] != b)
            order[seen++] = b;
    }
    assert_int_equal(seen, 2);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    uint64_t pass = cordon_core_next_deadline(core);
    assert_true(pass >= 60000 && pass < 90000);

    /* The periodic pass refreshes only buckets quiet for a whole period: bucket 2 (last
     * active at 0 s) surely; buckets 0 and 1 saw the join's lookups a few seconds later and
     * are quiet too if the draw put the pass late enough. One lookup at a time, in bucket
     * order, each 3 first tries and 3 retries. */
    size_t mark = cap.n;
    cordon_core_tick(core, pass);
    assert_int_equal(status_of(core).lookups, 1);
    for (int guard = 0; guard < 100 && status_of(core).lookups > 0; guard++) {
        assert_true(status_of(core).lookups <= 1);
        cordon_core_tick(core, cordon_core_next_deadline(core));
    }
    assert_int_equal(status_of(core).lookups, 0);
    assert_int_equal(status_of(core).pending, 0);
    size_t sent = count_sent(&cap, mark, CORDON_MSG_FIND_NODE);
    assert_true(sent >= 6 && sent <= 18 && sent % 6 == 0);
    assert_int_equal(cordon_id_cpl(ZERO_ID, cap.sent[cap.n - 1].m.u.find_node.target), 2);
    uint64_t again = cordon_core_next_deadline(core);
    assert_true(again >= pass + 60000 && again < pass + 90000);
    capture_free(&cap, core);
}

/* ---- random events ------------------------------------------------------------------- */

/* The table's invariants: sizes add up, no bucket over k or over the per-prefix limit,
 * every contact in the bucket its ID belongs to, caps held. */
static void check_invariants(const cordon_core *core)
{
    size_t total = 0, used = 0;
    for (unsigned b = 0; b < CORDON_ID_BITS; b++) {
        const struct bucket *bk = core->buckets[b];
        if (bk == NULL)
            continue;
        used++;
        assert_true(bk->n >= 1 && bk->n <= bk->cap && bk->cap <= core->cfg.params.k);
        for (size_t i = 0; i < bk->n; i++) {
            assert_int_equal(cordon_id_cpl(core->self.id, bk->e[i].c.id), b);
            size_t same = 0;
            for (size_t j = 0; j < bk->n; j++) {
                if (cordon_addr_same_prefix(&bk->e[i].c.addr, &bk->e[j].c.addr,
                                            core->cfg.params.prefix_limit_v4,
                                            core->cfg.params.prefix_limit_v6))
                    same++;
                if (j != i)
                    assert_memory_not_equal(bk->e[i].c.id, bk->e[j].c.id, CORDON_NODE_ID_LEN);
            }
            assert_true(same <= core->cfg.params.per_prefix_contacts);
        }
        total += bk->n;
    }
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.table_size, total);
    assert_int_equal(st.buckets_used, used);
    assert_true(st.pending <= CORDON_PENDING_MAX);
    assert_true(st.lookups <= CORDON_LOOKUPS_MAX);
    assert_true(core->nchurn <= CORDON_CHURN_TRACKED_MAX);
}

static void test_random_events(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    small_config(&cfg); /* k = 4: buckets fill, evictions and replacements happen */
    cfg.check_quiet_ms = 0;
    cfg.params.churn_max_rejoins = 10;
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    uint64_t rng = 31337, now = 0;
    enum { PEERS = 48, LOOKUPS = 300 };
    struct cordon_contact peer[PEERS];
    for (unsigned i = 0; i < PEERS; i++) {
        uint8_t id[CORDON_NODE_ID_LEN];
        fill_xorshift(&rng, id, sizeof(id));
        id[0] = (uint8_t)(id[0] >> (i % 4));         /* crowd the first buckets */
        peer[i] = contact4(id, 0, (uint8_t)(i % 3)); /* three /24s among them all */
    }
    struct result *res = calloc(LOOKUPS, sizeof(*res));
    assert_non_null(res);
    size_t started = 0;
    for (int step = 0; step < 20000; step++) {
        uint64_t r = xorshift(&rng);
        const struct cordon_contact *from = &peer[r % PEERS];
        struct cordon_contact asked;
        struct cordon_msg m;
        memset(&m, 0, sizeof(m));
        m.txid = (uint32_t)(r >> 32);
        if (core->npend > 0 && (r >> 8) % 2 == 0) {
            /* Answer a pending request, usually from the node asked. */
            const struct pending *p = &core->pend[(r >> 12) % core->npend];
            m.txid = p->txid;
            if ((r >> 20) % 8 != 0) {
                asked = p->to; /* a copy: the core may move its pending table */
                from = &asked;
            }
        }
        switch ((r >> 24) % 10) {
        case 0:
        case 1:
            m.type = CORDON_MSG_PING;
            break;
        case 2:
            m.type = CORDON_MSG_FIND_NODE;
            fill_xorshift(&rng, m.u.find_node.target, CORDON_NODE_ID_LEN);
            break;
        case 3:
        case 4:
            m.type = CORDON_MSG_PONG;
            break;
        case 5:
        case 6:
            m.type = CORDON_MSG_NODES;
            m.u.nodes.count = (uint8_t)((r >> 40) % 6);
            for (unsigned j = 0; j < m.u.nodes.count; j++)
                m.u.nodes.contacts[j] = peer[(r >> (44 + j)) % PEERS];
            break;
        case 7:
            m.type = CORDON_MSG_ERROR;
            m.u.error.code = (uint16_t)(1 + (r >> 40) % 3);
            break;
        case 8:
            m.type = 0;
            if ((r >> 40) % 4 == 0)
                cordon_core_link_failed(core, now, from);
            break;
        default:
            m.type = 0;
            if ((r >> 40) % 16 == 0) {
                cordon_core_forget(core, from->id);
            } else if (started < LOOKUPS) {
                uint8_t target[CORDON_NODE_ID_LEN];
                fill_xorshift(&rng, target, sizeof(target));
                cordon_err err = cordon_core_lookup(core, now, target, on_lookup, &res[started]);
                assert_true(err == CORDON_OK || err == CORDON_ERR_BUSY);
                if (err == CORDON_OK)
                    started++;
            }
            break;
        }
        if (m.type != 0) {
            m.flags = (m.type == CORDON_MSG_PING || m.type == CORDON_MSG_FIND_NODE)
                          ? 0
                          : CORDON_MSG_FLAG_RESPONSE;
            uint8_t buf[CORDON_MSG_MAX];
            size_t len;
            assert_int_equal(cordon_msg_encode(&m, buf, sizeof(buf), &len), CORDON_OK);
            if ((r >> 6) % 16 == 0)
                buf[(r >> 50) % len] ^= (uint8_t)(1u << ((r >> 58) % 8)); /* a bit flip */
            cordon_core_receive(core, now, from, buf, len);
        }
        now += (r >> 4) % 300;
        if (cordon_core_next_deadline(core) <= now)
            cordon_core_tick(core, now);
        if (step == 0)
            assert_int_equal(cordon_core_join(core, now, &peer[0], 1), CORDON_OK);
        cap.n = 0;
        check_invariants(core);
    }
    /* Quiet: every lookup ends, once. */
    for (int i = 0; i < 1000 && status_of(core).lookups > 0; i++) {
        now = cordon_core_next_deadline(core);
        cordon_core_tick(core, now);
        cap.n = 0;
    }
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.lookups, 0);
    assert_int_equal(st.pending, 0);
    assert_true(started > 100);
    for (size_t i = 0; i < started; i++)
        assert_int_equal(res[i].calls, 1);
    printf("random events: %zu lookups, %zu contacts, unsolicited %llu, malformed %llu, "
           "evictions %llu, refused prefix %llu, full %llu, churn %llu, timeouts %llu\n",
           started, st.table_size, (unsigned long long)st.dropped_unsolicited,
           (unsigned long long)st.dropped_malformed, (unsigned long long)st.evictions,
           (unsigned long long)st.refused_prefix, (unsigned long long)st.refused_full,
           (unsigned long long)st.refused_churn, (unsigned long long)st.timeouts);
    /* All paths were taken. */
    assert_true(st.dropped_unsolicited > 0 && st.dropped_malformed > 0 && st.evictions > 0 &&
                st.refused_prefix > 0 && st.refused_full > 0 && st.refused_churn > 0 &&
                st.timeouts > 0 && st.table_size > 0);
    free(res);
    capture_free(&cap, core);
}

/* ---- memory ---------------------------------------------------------------------------- */

static void test_memory_per_core(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg); /* k = 20 */
    struct capture cap;
    cordon_core *core = capture_core(&cap, &cfg);
    size_t empty = cordon_core_memory(core);
    /* Every node of a 10,000-node overlay writes to this one, 100 ms apart: the table
     * holds all it can, every bucket that can fill is full. */
    uint64_t rng = 2024, now = 0;
    for (unsigned i = 0; i < 10000; i++) {
        uint8_t id[CORDON_NODE_ID_LEN];
        fill_xorshift(&rng, id, sizeof(id));
        struct cordon_contact c = contact4(id, (uint8_t)(i >> 8), (uint8_t)i);
        now += 100;
        deliver_simple(core, now, &c, CORDON_MSG_PING, i);
        cap.n = 0;
    }
    struct cordon_core_status st = status_of(core);
    size_t bytes = cordon_core_memory(core);
    printf("core memory: %zu bytes empty, %zu bytes with %zu contacts in %zu buckets "
           "(N = 10000, k = 20)\n",
           empty, bytes, st.table_size, st.buckets_used);
    assert_true(st.table_size >= 150);
    assert_int_equal(st.dropped_rate_node, 0);
    assert_true(bytes < 64 * 1024);
    /* And while a lookup runs. */
    uint8_t target[CORDON_NODE_ID_LEN];
    fill_xorshift(&rng, target, sizeof(target));
    struct result r = {0};
    assert_int_equal(cordon_core_lookup(core, now, target, on_lookup, &r), CORDON_OK);
    size_t busy = cordon_core_memory(core);
    printf("core memory with one lookup running: %zu bytes\n", busy);
    assert_true(busy < 64 * 1024);
    capture_free(&cap, core);
    assert_int_equal(r.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_metric),
        cmocka_unit_test(test_table_bucket_index),
        cmocka_unit_test(test_table_capacity_long_lived),
        cmocka_unit_test(test_table_prefix_limit),
        cmocka_unit_test(test_table_eviction_after_failures),
        cmocka_unit_test(test_rpc_timeouts_and_backoff),
        cmocka_unit_test(test_rtt_watch_timeout),
        cmocka_unit_test(test_rpc_unsolicited),
        cmocka_unit_test(test_rpc_pending_cap),
        cmocka_unit_test(test_lookup_empty_table_and_busy),
        cmocka_unit_test(test_lookup_network),
        cmocka_unit_test(test_find_node),
        cmocka_unit_test(test_lookup_single_path),
        cmocka_unit_test(test_lookup_with_silent_nodes),
        cmocka_unit_test(test_limits_per_node),
        cmocka_unit_test(test_limits_global),
        cmocka_unit_test(test_limits_crowd),
        cmocka_unit_test(test_limits_paced_burst),
        cmocka_unit_test(test_limits_churn),
        cmocka_unit_test(test_refresh_one_lookup_at_a_time),
        cmocka_unit_test(test_random_events),
        cmocka_unit_test(test_memory_per_core),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
