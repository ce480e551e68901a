/*
 * fuzz/datagram_world.c — see datagram_world.h.
 *
 * Invariants checked as the script runs (abort() on failure, so a crash names the input):
 *   - whatever either table hands to send_datagram fits CORDON_LINK_DATAGRAM_MAX; whatever
 *     it delivers fits CORDON_LINK_PLAINTEXT_MAX;
 *   - authentication: the server's links come up and deliver only with the client's node
 *     ID, from the client's address; the client's only with the server's. No datagram from
 *     any other source ever reaches the post-authentication path;
 *   - every record a link delivered is counted once (records_in), and no more handshakes
 *     complete than links were opened;
 *   - the tables stay within their configured caps (links, half-open, sessions);
 *   - every reassembler counts each record once (records = whole + fragments + drops),
 *     stays within cordon_frag_rx_memory_max(), and the shared budget's used bytes equal
 *     what the reassemblers hold and never exceed its max;
 *   - a lookup callback runs at most once.
 */
#include "fuzz/datagram_world.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "crypto/crypto.h"
#include "fuzz/enroll_fuzz_ca.h"
#include "peer/core/core.h"
#include "peer/link.h"
#include "wire/frag.h"
#include "wire/msg.h"
#include "wire/reader.h"

#define QUEUE_MAX 64
/* Less than two of the largest messages: CORDON_ERR_BUSY is within reach. */
#define BUDGET_MAX (CORDON_FRAG_MSG_MAX + 64 * 1024)
#define DEFERRED_MAX 8
#define SERVER 0
#define CLIENT 1

/* ---- fixed for the process ---------------------------------------------------------------- */

static cordon_key *ca_key;
static cordon_cert *ca_cert;
static cordon_crl *crl;
static struct cordon_link_identity ids[2];
static uint8_t node_ids[2][CORDON_NODE_ID_LEN];
static struct sockaddr_storage server_addr, sources[DW_SOURCES];
static socklen_t server_len, source_len[DW_SOURCES];

static void must(bool ok)
{
    if (!ok)
        abort();
}

static socklen_t make_v4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof(*ss));
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    must(inet_pton(AF_INET, ip, &in->sin_addr) == 1);
    return sizeof(*in);
}

static cordon_key *load_ca_key(void)
{
    char path[] = "/tmp/fuzz-datagram-ca-XXXXXX";
    int fd = mkstemp(path);
    must(fd >= 0);
    size_t n = sizeof(FUZZ_CA_KEY_PEM) - 1;
    must(write(fd, FUZZ_CA_KEY_PEM, n) == (ssize_t)n && close(fd) == 0);
    cordon_key *key = NULL;
    cordon_err err = cordon_key_load(path, &key);
    unlink(path);
    must(err == CORDON_OK);
    return key;
}

static void make_identity(int who)
{
    struct cordon_node_cert_params p;
    cordon_csr *csr = NULL;
    uint8_t id[CORDON_NODE_ID_LEN];

    memset(&p, 0, sizeof(p));
    p.overlay = FUZZ_OVERLAY;
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        p.node_id[i] = (uint8_t)(0x50 + 0x40 * who + i);
    p.serial[0] = 0x21;
    p.serial[CORDON_SERIAL_LEN - 1] = (uint8_t)(who + 1);
    p.not_before = FUZZ_NOW - 86400;
    p.not_after = FUZZ_NOW + 7 * 86400;
    must(cordon_key_generate(CORDON_KEY_P256, &ids[who].key) == CORDON_OK);
    must(cordon_csr_create(ids[who].key, &csr) == CORDON_OK);
    must(cordon_cert_issue_node(csr, &p, ca_key, ca_cert, &ids[who].cert) == CORDON_OK);
    cordon_csr_free(csr);
    must(cordon_cert_node_id(ids[who].cert, FUZZ_OVERLAY, id) == CORDON_OK &&
         memcmp(id, p.node_id, sizeof(id)) == 0);
    memcpy(node_ids[who], id, sizeof(id));
    ids[who].ca = ca_cert;
    ids[who].crl = crl;
    snprintf(ids[who].overlay, sizeof(ids[who].overlay), "%s", FUZZ_OVERLAY);
}

void dw_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    cordon_log_set_level(CORDON_LOG_ERROR);
    ca_key = load_ca_key();
    must(cordon_cert_parse(FUZZ_CA_CERT_PEM, sizeof(FUZZ_CA_CERT_PEM) - 1, &ca_cert) == CORDON_OK);
    must(cordon_crl_create(ca_key, ca_cert, 1, FUZZ_NOW - 60, FUZZ_NOW + 86400, NULL, 0, &crl) ==
         CORDON_OK);
    make_identity(SERVER);
    make_identity(CLIENT);

    server_len = make_v4(&server_addr, "10.0.0.1", 4000);
    source_len[0] = make_v4(&sources[0], "10.0.0.2", 4001); /* the client */
    for (int i = 1; i <= 5; i++) {
        char ip[16];
        snprintf(ip, sizeof(ip), "10.0.0.%d", i + 2);
        source_len[i] = make_v4(&sources[i], ip, (uint16_t)(5000 + i));
    }
    source_len[6] = make_v4(&sources[6], "10.0.1.9", 6000);
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sources[7];
    memset(&sources[7], 0, sizeof(sources[7]));
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(7000);
    must(inet_pton(AF_INET6, "2001:db8::7", &in6->sin6_addr) == 1);
    source_len[7] = sizeof(*in6);
}

/* ---- the world of one script ---------------------------------------------------------------- */

struct datagram {
    size_t len;
    uint8_t data[CORDON_LINK_DATAGRAM_MAX];
};

struct queue {
    struct datagram d[QUEUE_MAX];
    size_t head, n;
};

struct world {
    uint64_t now;
    cordon_links *links[2]; /* made on first use (through table()): a table costs a context */
    struct cordon_link_host host[2];
    cordon_core *core;
    struct cordon_link_config cfg[2];
    struct cordon_frag_budget budget;
    struct cordon_frag_rx *rx[DW_SOURCES]; /* the server's reassembler per source */
    struct queue to[2];                    /* to[SERVER]: datagrams on their way to the server */
    bool in_core;
    uint64_t counter;
    struct cordon_contact deferred[DEFERRED_MAX];
    size_t n_deferred;
    unsigned lookup_calls[CORDON_LOOKUPS_MAX];
    size_t lookups;
    uint64_t delivered[2];
    struct dw_stats st;
};

static bool addr_same(const struct sockaddr *a, socklen_t alen, const struct sockaddr_storage *b,
                      socklen_t blen)
{
    if (alen != blen || a->sa_family != b->ss_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

static int source_of(const struct sockaddr *a, socklen_t alen)
{
    for (int i = 0; i < DW_SOURCES; i++)
        if (addr_same(a, alen, &sources[i], source_len[i]))
            return i;
    return -1;
}

static void contact_of(int source, const uint8_t id[CORDON_NODE_ID_LEN], struct cordon_contact *c)
{
    const struct sockaddr_storage *ss = &sources[source];
    memset(c, 0, sizeof(*c));
    memcpy(c->id, id, CORDON_NODE_ID_LEN);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        c->addr.family = 4;
        memcpy(c->addr.ip, &in->sin_addr, 4);
        c->addr.port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        c->addr.family = 6;
        memcpy(c->addr.ip, &in6->sin6_addr, 16);
        c->addr.port = ntohs(in6->sin6_port);
    }
}

static void enqueue(struct queue *q, const uint8_t *data, size_t len)
{
    if (len > CORDON_LINK_DATAGRAM_MAX)
        abort(); /* the tables promise never to send more */
    if (q->n == QUEUE_MAX)
        return; /* the network drops */
    struct datagram *d = &q->d[(q->head + q->n++) % QUEUE_MAX];
    memcpy(d->data, data, len);
    d->len = len;
}

static bool dequeue(struct queue *q, struct datagram *out)
{
    if (q->n == 0)
        return false;
    *out = q->d[q->head];
    q->head = (q->head + 1) % QUEUE_MAX;
    q->n--;
    return true;
}

static void defer(struct world *w, const struct cordon_contact *c)
{
    if (w->n_deferred < DEFERRED_MAX)
        w->deferred[w->n_deferred++] = *c;
}

static void run_deferred(struct world *w)
{
    struct cordon_contact batch[DEFERRED_MAX];
    size_t n = w->n_deferred;
    memcpy(batch, w->deferred, n * sizeof(batch[0]));
    w->n_deferred = 0;
    for (size_t i = 0; i < n; i++) {
        w->in_core = true;
        cordon_core_link_failed(w->core, w->now, &batch[i]);
        w->in_core = false;
    }
}

/* The post-authentication path of peer/runtime.c (on_deliver): the reassembler of the
 * remote, then the core with the proven node ID. */
static void post_auth(struct world *w, int source, const uint8_t id[CORDON_NODE_ID_LEN],
                      const uint8_t *rec, size_t len)
{
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    if (w->in_core)
        return;
    if (w->rx[source] == NULL && cordon_frag_rx_new(&w->budget, &w->rx[source]) != CORDON_OK)
        abort();
    cordon_err err = cordon_frag_rx_push(w->rx[source], rec, len, w->now, &msg, &msg_len);
    if (err == CORDON_ERR_INVAL || err == CORDON_ERR_NOMEM)
        abort(); /* neither is something a record can cause */
    if (err != CORDON_OK || msg == NULL)
        return;
    if (msg_len > CORDON_FRAG_MSG_MAX)
        abort();
    struct cordon_contact from;
    contact_of(source, id, &from);
    w->in_core = true;
    cordon_core_receive(w->core, w->now, &from, msg, msg_len);
    w->in_core = false;
}

/* ---- link hosts ----------------------------------------------------------------------------- */

static void server_send(void *ctx, const struct sockaddr *to, socklen_t tolen, const uint8_t *data,
                        size_t len)
{
    struct world *w = ctx;
    if (len > CORDON_LINK_DATAGRAM_MAX)
        abort();
    if (addr_same(to, tolen, &sources[0], source_len[0]))
        enqueue(&w->to[CLIENT], data, len);
    /* Answers to the other sources go nowhere. */
}

static void server_deliver(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                           const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                           size_t len)
{
    struct world *w = ctx;
    if (memcmp(node_id, node_ids[CLIENT], CORDON_NODE_ID_LEN) != 0 ||
        source_of(from, fromlen) != 0 || len > CORDON_LINK_PLAINTEXT_MAX)
        abort();
    w->delivered[SERVER]++;
    post_auth(w, 0, node_id, data, len);
}

static void server_up(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                      const struct sockaddr *addr, socklen_t addrlen)
{
    struct world *w = ctx;
    if (memcmp(node_id, node_ids[CLIENT], CORDON_NODE_ID_LEN) != 0 || source_of(addr, addrlen) != 0)
        abort();
    w->st.server_links_up++;
}

static void server_failed(void *ctx, const struct sockaddr *addr, socklen_t addrlen,
                          const uint8_t *expected, cordon_err reason)
{
    struct world *w = ctx;
    int source = source_of(addr, addrlen);
    (void)reason;
    if (expected != NULL && source >= 0) {
        struct cordon_contact c;
        contact_of(source, expected, &c);
        defer(w, &c);
    }
}

static void client_send(void *ctx, const struct sockaddr *to, socklen_t tolen, const uint8_t *data,
                        size_t len)
{
    struct world *w = ctx;
    if (len > CORDON_LINK_DATAGRAM_MAX)
        abort();
    if (addr_same(to, tolen, &server_addr, server_len))
        enqueue(&w->to[SERVER], data, len);
}

static void client_deliver(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                           const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                           size_t len)
{
    struct world *w = ctx;
    (void)data;
    if (memcmp(node_id, node_ids[SERVER], CORDON_NODE_ID_LEN) != 0 ||
        !addr_same(from, fromlen, &server_addr, server_len) || len > CORDON_LINK_PLAINTEXT_MAX)
        abort();
    w->delivered[CLIENT]++;
}

static void client_up(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                      const struct sockaddr *addr, socklen_t addrlen)
{
    struct world *w = ctx;
    if (memcmp(node_id, node_ids[SERVER], CORDON_NODE_ID_LEN) != 0 ||
        !addr_same(addr, addrlen, &server_addr, server_len))
        abort();
    w->st.client_links_up++;
}

static int64_t fixed_wall(void *ctx)
{
    (void)ctx;
    return FUZZ_NOW;
}

/* ---- core host ------------------------------------------------------------------------------ */

struct emit_ctx {
    struct world *w;
    const struct cordon_contact *to;
    int source;
};

static cordon_links *table(struct world *w, int side);

static cordon_err emit(void *ctx, const uint8_t *rec, size_t len)
{
    struct emit_ctx *e = ctx;
    return cordon_links_send(table(e->w, SERVER), e->w->now,
                             (const struct sockaddr *)&sources[e->source], source_len[e->source],
                             e->to->id, rec, len);
}

/* As peer/runtime.c's send_message: framed into records, one cordon_links_send each. */
static void core_send(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len)
{
    struct world *w = ctx;
    struct emit_ctx e = {.w = w, .to = to, .source = -1};
    for (int i = 0; i < DW_SOURCES && e.source < 0; i++) {
        struct cordon_contact c;
        contact_of(i, to->id, &c);
        if (c.addr.family == to->addr.family && c.addr.port == to->addr.port &&
            memcmp(c.addr.ip, to->addr.ip, 16) == 0)
            e.source = i;
    }
    if (e.source < 0 || cordon_frag_split(msg, len, (uint32_t)w->counter++, emit, &e) != CORDON_OK)
        defer(w, to);
}

static void core_random(void *ctx, void *out, size_t n)
{
    struct world *w = ctx;
    uint8_t *p = out;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((w->counter++ * 0x9e3779b97f4a7c15ULL) >> 56);
}

static void lookup_done(void *arg, cordon_err result, const struct cordon_contact *closest,
                        size_t n, const struct cordon_lookup_stats *stats)
{
    unsigned *calls = arg;
    (void)result, (void)closest, (void)stats;
    if (n > CORDON_K_MAX || ++*calls > 1)
        abort();
}

/* ---- invariants ----------------------------------------------------------------------------- */

static void check_world(const struct world *w)
{
    size_t held = 0;
    for (int s = 0; s < 2; s++) {
        const cordon_links *t = w->links[s];
        const struct cordon_link_counters *c = cordon_links_counters(t);
        if (t == NULL) {
            if (w->delivered[s] != 0)
                abort();
            continue;
        }
        if (cordon_links_count(t) > w->cfg[s].max_links ||
            cordon_links_half_open(t) > w->cfg[s].max_half_open ||
            cordon_links_half_open(t) > cordon_links_count(t) ||
            cordon_links_sessions(t) > w->cfg[s].max_sessions || c->records_in != w->delivered[s] ||
            c->handshakes_full + c->handshakes_resumed > c->links_opened ||
            c->links_closed > c->links_opened)
            abort();
    }
    for (int i = 0; i < DW_SOURCES; i++) {
        if (w->rx[i] == NULL)
            continue;
        const struct cordon_frag_counters *c = cordon_frag_rx_counters(w->rx[i]);
        uint64_t drops = c->drop_truncated + c->drop_oversize + c->drop_kind + c->drop_too_large +
                         c->drop_malformed + c->drop_mismatch + c->drop_duplicate + c->drop_replay +
                         c->drop_busy + c->drop_nomem;
        size_t mem = cordon_frag_rx_memory(w->rx[i]);
        if (c->records != c->whole + c->fragments + drops || mem > cordon_frag_rx_memory_max())
            abort();
        held += mem - (cordon_frag_rx_memory_max() - CORDON_FRAG_BUFFERED_MAX);
    }
    if (w->budget.used > w->budget.max || w->budget.used != held)
        abort();
}

/* ---- running a script ----------------------------------------------------------------------- */

static void world_new(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->now = 1000;
    w->budget.max = BUDGET_MAX;
    struct cordon_link_config *s = &w->cfg[SERVER], *c = &w->cfg[CLIENT];
    cordon_link_config_default(s);
    s->max_links = 4;
    s->max_half_open = 2;
    s->max_sessions = 2;
    s->idle_timeout_ms = 30000;
    s->handshake_timeout_ms = 5000;
    s->handshake_rate = 1.0;
    s->handshake_burst = 3.0;
    *c = *s;
    c->max_links = 2;
    c->max_half_open = 1;
    w->host[SERVER] = (struct cordon_link_host){.ctx = w,
                                                .send_datagram = server_send,
                                                .deliver = server_deliver,
                                                .link_up = server_up,
                                                .link_failed = server_failed,
                                                .wall_time = fixed_wall};
    w->host[CLIENT] = (struct cordon_link_host){.ctx = w,
                                                .send_datagram = client_send,
                                                .deliver = client_deliver,
                                                .link_up = client_up,
                                                .wall_time = fixed_wall};

    struct cordon_core_config cc;
    struct cordon_contact self, none;
    cordon_core_config_default(&cc);
    memset(&self, 0, sizeof(self));
    memcpy(self.id, node_ids[SERVER], CORDON_NODE_ID_LEN);
    self.addr.family = 4;
    memcpy(self.addr.ip, &((const struct sockaddr_in *)&server_addr)->sin_addr, 4);
    self.addr.port = 4000;
    struct cordon_core_host host = {.ctx = w, .send = core_send, .random = core_random};
    must(cordon_core_new(&cc, &self, &host, &w->core) == CORDON_OK);
    w->in_core = true;
    must(cordon_core_join(w->core, w->now, &none, 0) == CORDON_OK);
    w->in_core = false;
}

static cordon_links *table(struct world *w, int side)
{
    if (w->links[side] == NULL &&
        cordon_links_new(&w->cfg[side], &ids[side], &w->host[side], &w->links[side]) != CORDON_OK)
        abort();
    return w->links[side];
}

static void world_free(struct world *w, struct dw_stats *stats)
{
    const struct cordon_link_counters *c = cordon_links_counters(w->links[SERVER]);
    struct cordon_core_status cs;
    cordon_core_status(w->core, &cs);
    w->st.server_records_in = w->delivered[SERVER];
    w->st.client_records_in = w->delivered[CLIENT];
    w->st.core_msgs_in = cs.msgs_in;
    w->st.core_dropped_malformed = cs.dropped_malformed;
    if (c != NULL) {
        w->st.cookies_sent = c->cookies_sent;
        w->st.handshakes_resumed = c->handshakes_resumed;
        w->st.garbage = c->dropped_garbage;
    }
    for (int i = 0; i < DW_SOURCES; i++)
        if (w->rx[i] != NULL)
            w->st.reassembled += cordon_frag_rx_counters(w->rx[i])->reassembled;
    if (stats != NULL)
        *stats = w->st;
    cordon_core_free(w->core);
    cordon_links_free(w->links[SERVER]);
    cordon_links_free(w->links[CLIENT]);
    for (int i = 0; i < DW_SOURCES; i++)
        cordon_frag_rx_free(w->rx[i]);
    if (w->budget.used != 0)
        abort();
}

/* Delivers the next datagram queued towards side (mutated: byte pos % len ^= mask). */
static void deliver_one(struct world *w, int side, bool mutate, uint16_t pos, uint8_t mask)
{
    struct datagram d;
    if (!dequeue(&w->to[side], &d))
        return;
    if (mutate) {
        if (mask == 0 || d.len == 0)
            return; /* lost */
        d.data[pos % d.len] ^= mask;
    }
    if (side == SERVER)
        cordon_links_input(table(w, SERVER), w->now, (const struct sockaddr *)&sources[0],
                           source_len[0], d.data, d.len);
    else
        cordon_links_input(table(w, CLIENT), w->now, (const struct sockaddr *)&server_addr,
                           server_len, d.data, d.len);
}

static void pump(struct world *w, unsigned rounds)
{
    for (unsigned r = 0; r < rounds; r++) {
        if (w->to[SERVER].n == 0 && w->to[CLIENT].n == 0)
            return;
        for (size_t n = w->to[SERVER].n; n > 0; n--)
            deliver_one(w, SERVER, false, 0, 0);
        for (size_t n = w->to[CLIENT].n; n > 0; n--)
            deliver_one(w, CLIENT, false, 0, 0);
        run_deferred(w);
    }
}

static void tick(struct world *w, uint16_t ms)
{
    w->now += ms;
    cordon_links_tick(w->links[SERVER], w->now);
    cordon_links_tick(w->links[CLIENT], w->now);
    for (int i = 0; i < DW_SOURCES; i++)
        if (w->rx[i] != NULL && cordon_frag_rx_deadline(w->rx[i]) <= w->now)
            cordon_frag_rx_expire(w->rx[i], w->now);
    run_deferred(w);
    w->in_core = true;
    cordon_core_tick(w->core, w->now);
    w->in_core = false;
}

void dw_run(const uint8_t *script, size_t len, struct dw_stats *stats)
{
    struct world *w = malloc(sizeof(*w));
    cordon_reader r, sub;
    uint8_t op, a, b;
    uint16_t n;

    must(w != NULL);
    dw_init();
    world_new(w);
    cordon_reader_init(&r, script, len);
    for (int step = 0; step < DW_STEPS_MAX && cordon_read_u8(&r, &op) == CORDON_OK; step++) {
        switch (op % DW_OPS) {
        case DW_RAW:
            if (cordon_read_u8(&r, &a) != CORDON_OK ||
                cordon_read_sub(&r, 2, CORDON_LINK_DATAGRAM_MAX + 64, &sub) != CORDON_OK)
                goto out;
            cordon_links_input(table(w, SERVER), w->now,
                               (const struct sockaddr *)&sources[a % DW_SOURCES],
                               source_len[a % DW_SOURCES], sub.data, sub.len);
            break;
        case DW_CLIENT_SEND:
            if (cordon_read_sub(&r, 2, CORDON_LINK_PLAINTEXT_MAX + 8, &sub) != CORDON_OK)
                goto out;
            (void)cordon_links_send(table(w, CLIENT), w->now, (const struct sockaddr *)&server_addr,
                                    server_len, node_ids[SERVER], sub.data, sub.len);
            break;
        case DW_PUMP:
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            pump(w, (unsigned)a + 1);
            break;
        case DW_MUTATE:
            if (cordon_read_u8(&r, &a) != CORDON_OK || cordon_read_u16(&r, &n) != CORDON_OK ||
                cordon_read_u8(&r, &b) != CORDON_OK)
                goto out;
            deliver_one(w, a % 2 == 0 ? SERVER : CLIENT, true, n, b);
            break;
        case DW_TICK:
            if (cordon_read_u16(&r, &n) != CORDON_OK)
                goto out;
            tick(w, n);
            break;
        case DW_RECORD:
            if (cordon_read_u8(&r, &a) != CORDON_OK ||
                cordon_read_sub(&r, 2, CORDON_LINK_PLAINTEXT_MAX + 8, &sub) != CORDON_OK)
                goto out;
            post_auth(w, a % DW_SOURCES, node_ids[CLIENT], sub.data, sub.len);
            break;
        case DW_CLOSE:
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            if (a % 2 == 0)
                (void)cordon_links_close(table(w, CLIENT), w->now,
                                         (const struct sockaddr *)&server_addr, server_len);
            else
                (void)cordon_links_close(table(w, SERVER), w->now,
                                         (const struct sockaddr *)&sources[0], source_len[0]);
            break;
        case DW_SERVER_SEND:
            if (cordon_read_sub(&r, 2, CORDON_LINK_PLAINTEXT_MAX + 8, &sub) != CORDON_OK)
                goto out;
            (void)cordon_links_send(table(w, SERVER), w->now, (const struct sockaddr *)&sources[0],
                                    source_len[0], node_ids[CLIENT], sub.data, sub.len);
            break;
        default: { /* DW_LOOKUP */
            uint8_t target[CORDON_NODE_ID_LEN];
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            memset(target, a, sizeof(target));
            if (w->lookups < CORDON_LOOKUPS_MAX) {
                w->in_core = true;
                if (cordon_core_lookup(w->core, w->now, target, lookup_done,
                                       &w->lookup_calls[w->lookups]) == CORDON_OK)
                    w->lookups++;
                w->in_core = false;
            }
            break;
        }
        }
        run_deferred(w);
        check_world(w);
    }
out:
    check_world(w);
    world_free(w, stats);
    free(w);
}

/* ---- a captured ClientHello ----------------------------------------------------------------- */

struct capture {
    uint8_t *out;
    size_t cap, len;
};

static void capture_send(void *ctx, const struct sockaddr *to, socklen_t tolen, const uint8_t *data,
                         size_t len)
{
    struct capture *c = ctx;
    (void)to, (void)tolen;
    if (c->len == 0 && len <= c->cap) {
        memcpy(c->out, data, len);
        c->len = len;
    }
}

static void capture_deliver(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                            const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                            size_t len)
{
    (void)ctx, (void)node_id, (void)from, (void)fromlen, (void)data, (void)len;
}

size_t dw_client_hello(uint8_t *out, size_t cap)
{
    struct capture c = {.out = out, .cap = cap};
    struct cordon_link_config cfg;
    struct cordon_link_host h = {.ctx = &c,
                                 .send_datagram = capture_send,
                                 .deliver = capture_deliver,
                                 .wall_time = fixed_wall};
    cordon_links *t = NULL;
    static const uint8_t ping = CORDON_FRAG_KIND_WHOLE;

    dw_init();
    cordon_link_config_default(&cfg);
    must(cordon_links_new(&cfg, &ids[CLIENT], &h, &t) == CORDON_OK);
    (void)cordon_links_send(t, 1000, (const struct sockaddr *)&server_addr, server_len, NULL, &ping,
                            1);
    cordon_links_free(t);
    return c.len;
}
