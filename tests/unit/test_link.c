/*
 * tests/unit/test_link.c — the DTLS link table (peer/link.h): link tables of one process
 * joined by an in-memory network (the send callback queues datagrams, pump() delivers
 * them, bounded), with a throwaway overlay CA made by the crypto API.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "peer/link.h"

#define OVERLAY "test"
#define T0 INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define DAY INT64_C(86400)
#define NOW (T0 + 3600) /* the wall clock of every table */

/* ---- the overlay ------------------------------------------------------------------------- */

static cordon_key *ca_key;
static cordon_cert *ca_cert;
static cordon_key *other_ca_key;
static cordon_cert *other_ca_cert;
static cordon_crl *crl; /* lists serial 0x..66 */

#define REVOKED_SERIAL 0x66

static void must(cordon_err err)
{
    if (err != CORDON_OK)
        fail_msg("unexpected error %s", cordon_errname(err));
}

static void node_id_of(uint8_t id_byte, uint8_t out[CORDON_NODE_ID_LEN])
{
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        out[i] = (uint8_t)(id_byte + i);
}

/* ---- the network ------------------------------------------------------------------------- */

#define NET_QUEUE 512
#define NODES_MAX 8

struct datagram {
    struct sockaddr_in from, to;
    size_t len;
    uint8_t data[CORDON_LINK_DATAGRAM_MAX];
};

struct node {
    struct cordon_link_identity id;
    cordon_links *links;
    struct sockaddr_in addr;
    uint8_t node_id[CORDON_NODE_ID_LEN];
    /* what the host saw */
    int delivered;
    uint8_t last_from[CORDON_NODE_ID_LEN];
    char last_data[64];
    int ups;
    int failed;
    cordon_err last_fail;
    bool last_fail_had_expected;
};

static struct datagram queue[NET_QUEUE];
static size_t q_head, q_len;
static size_t oversize_sends;
static struct node *nodes[NODES_MAX];
static size_t n_nodes;
static uint64_t now_ms = 1000;
static int64_t wall_now = NOW; /* the wall clock of every table; tests may move it */

static void net_reset(void)
{
    q_head = q_len = 0;
    n_nodes = 0;
}

static void host_send(void *ctx, const struct sockaddr *to, socklen_t tolen, const uint8_t *data,
                      size_t len)
{
    struct node *n = ctx;
    assert_int_equal(tolen, sizeof(struct sockaddr_in));
    if (len > CORDON_LINK_DATAGRAM_MAX) {
        oversize_sends++;
        return;
    }
    if (q_len == NET_QUEUE)
        return; /* the network drops */
    struct datagram *d = &queue[(q_head + q_len++) % NET_QUEUE];
    d->from = n->addr;
    memcpy(&d->to, to, sizeof(d->to));
    d->len = len;
    memcpy(d->data, data, len);
}

static void host_deliver(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                         const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                         size_t len)
{
    struct node *n = ctx;
    (void)from;
    (void)fromlen;
    n->delivered++;
    memcpy(n->last_from, node_id, CORDON_NODE_ID_LEN);
    memset(n->last_data, 0, sizeof(n->last_data));
    memcpy(n->last_data, data, len < sizeof(n->last_data) - 1 ? len : sizeof(n->last_data) - 1);
}

static void host_up(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                    const struct sockaddr *addr, socklen_t addrlen)
{
    struct node *n = ctx;
    (void)node_id;
    (void)addr;
    (void)addrlen;
    n->ups++;
}

static void host_failed(void *ctx, const struct sockaddr *addr, socklen_t addrlen,
                        const uint8_t *expected, cordon_err reason)
{
    struct node *n = ctx;
    (void)addr;
    (void)addrlen;
    n->failed++;
    n->last_fail = reason;
    n->last_fail_had_expected = expected != NULL;
}

static int64_t host_wall(void *ctx)
{
    (void)ctx;
    return wall_now;
}

static struct node *node_by_addr(const struct sockaddr_in *a)
{
    for (size_t i = 0; i < n_nodes; i++)
        if (nodes[i]->addr.sin_port == a->sin_port &&
            nodes[i]->addr.sin_addr.s_addr == a->sin_addr.s_addr)
            return nodes[i];
    return NULL;
}

/* Delivers queued datagrams until the network is quiet; bounded. Returns how many. */
static size_t pump(void)
{
    size_t n = 0;
    while (q_len > 0 && n < 10000) {
        struct datagram d = queue[q_head];
        q_head = (q_head + 1) % NET_QUEUE;
        q_len--;
        n++;
        struct node *dst = node_by_addr(&d.to);
        if (dst != NULL)
            cordon_links_input(dst->links, now_ms, (const struct sockaddr *)&d.from, sizeof(d.from),
                               d.data, d.len);
    }
    assert_true(n < 10000);
    return n;
}

static void drop_queue(void)
{
    q_head = q_len = 0;
}

/* ---- nodes ------------------------------------------------------------------------------- */

struct node_opts {
    uint8_t id_byte;
    uint8_t serial;
    int64_t nb, na;
    bool foreign; /* issued by another CA */
    cordon_key_type type;
    const struct cordon_link_config *config;
};

/* The node's link table, with its identity and this harness's host callbacks. */
static void links_open(struct node *n, const struct cordon_link_config *config)
{
    struct cordon_link_config cfg;
    struct cordon_link_host host = {
        .ctx = n,
        .send_datagram = host_send,
        .deliver = host_deliver,
        .link_up = host_up,
        .link_failed = host_failed,
        .wall_time = host_wall,
    };
    if (config != NULL)
        cfg = *config;
    else
        cordon_link_config_default(&cfg);
    must(cordon_links_new(&cfg, &n->id, &host, &n->links));
}

static struct node *node_new(const struct node_opts *o, uint16_t port)
{
    struct node *n = calloc(1, sizeof(*n));
    struct cordon_node_cert_params p;
    cordon_csr *csr = NULL;

    assert_non_null(n);
    must(cordon_key_generate(o->type == CORDON_KEY_NONE ? CORDON_KEY_P256 : o->type, &n->id.key));
    memset(&p, 0, sizeof(p));
    p.overlay = OVERLAY;
    node_id_of(o->id_byte, p.node_id);
    memcpy(n->node_id, p.node_id, sizeof(n->node_id));
    p.serial[0] = 0x12;
    p.serial[CORDON_SERIAL_LEN - 1] = o->serial;
    p.not_before = o->nb != 0 ? o->nb : T0 - DAY;
    p.not_after = o->na != 0 ? o->na : T0 + 7 * DAY;
    must(cordon_csr_create(n->id.key, &csr));
    must(cordon_cert_issue_node(csr, &p, o->foreign ? other_ca_key : ca_key,
                                o->foreign ? other_ca_cert : ca_cert, &n->id.cert));
    cordon_csr_free(csr);
    /* Every node trusts the real overlay CA (a foreign node just holds a foreign cert). */
    n->id.ca = ca_cert;
    n->id.crl = crl;
    snprintf(n->id.overlay, sizeof(n->id.overlay), "%s", OVERLAY);
    n->addr.sin_family = AF_INET;
    n->addr.sin_port = htons(port);
    n->addr.sin_addr.s_addr = htonl(0x7f000001);
    links_open(n, o->config);
    assert_true(n_nodes < NODES_MAX);
    nodes[n_nodes++] = n;
    return n;
}

/* The node's process restarts: a new table with the same identity at the same address,
 * which has forgotten every session. */
static void node_restart(struct node *n)
{
    cordon_links_free(n->links);
    links_open(n, NULL);
}

static struct node *good(uint8_t id_byte, uint16_t port)
{
    struct node_opts o = {.id_byte = id_byte, .serial = id_byte};
    return node_new(&o, port);
}

static void node_free(struct node *n)
{
    if (n == NULL)
        return;
    cordon_links_free(n->links);
    cordon_key_free(n->id.key);
    cordon_cert_free(n->id.cert);
    free(n);
}

static void free_all(void)
{
    for (size_t i = 0; i < n_nodes; i++)
        node_free(nodes[i]);
    net_reset();
}

static const struct sockaddr *sa(const struct node *n)
{
    return (const struct sockaddr *)&n->addr;
}

static cordon_err send_str(struct node *from, struct node *to, const uint8_t *expected,
                           const char *s)
{
    return cordon_links_send(from->links, now_ms, sa(to), sizeof(to->addr), expected,
                             (const uint8_t *)s, strlen(s));
}

static const struct cordon_link_counters *ctr(const struct node *n)
{
    return cordon_links_counters(n->links);
}

/* ---- fixture ------------------------------------------------------------------------------ */

static int group_setup(void **state)
{
    struct cordon_revoked rev;
    (void)state;
    if (cordon_key_generate(CORDON_KEY_P256, &ca_key) != CORDON_OK ||
        cordon_ca_create(ca_key, OVERLAY, T0 - 10 * DAY, T0 + 3650 * DAY, &ca_cert) != CORDON_OK ||
        cordon_key_generate(CORDON_KEY_P256, &other_ca_key) != CORDON_OK ||
        cordon_ca_create(other_ca_key, OVERLAY, T0 - 10 * DAY, T0 + 3650 * DAY, &other_ca_cert) !=
            CORDON_OK)
        return -1;
    memset(&rev, 0, sizeof(rev));
    rev.serial[0] = 0x12;
    rev.serial[CORDON_SERIAL_LEN - 1] = REVOKED_SERIAL;
    rev.revoked_at = T0;
    if (cordon_crl_create(ca_key, ca_cert, 1, T0 - DAY, T0 + 30 * DAY, &rev, 1, &crl) != CORDON_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cordon_crl_free(crl);
    cordon_cert_free(ca_cert);
    cordon_key_free(ca_key);
    cordon_cert_free(other_ca_cert);
    cordon_key_free(other_ca_key);
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    free_all();
    wall_now = NOW;
    return 0;
}

/* A certificate for n's key, as the CA would issue it on renewal (same node ID). */
static cordon_cert *issue_for(const struct node *n, uint8_t serial, int64_t nb, int64_t na)
{
    struct cordon_node_cert_params p;
    cordon_csr *csr = NULL;
    cordon_cert *cert = NULL;
    memset(&p, 0, sizeof(p));
    p.overlay = OVERLAY;
    memcpy(p.node_id, n->node_id, sizeof(p.node_id));
    p.serial[0] = 0x12;
    p.serial[CORDON_SERIAL_LEN - 1] = serial;
    p.not_before = nb;
    p.not_after = na;
    must(cordon_csr_create(n->id.key, &csr));
    must(cordon_cert_issue_node(csr, &p, ca_key, ca_cert, &cert));
    cordon_csr_free(csr);
    return cert;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_handshake_and_data(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node *b = good(0x20, 4002);
    uint8_t id[CORDON_NODE_ID_LEN];

    must(send_str(a, b, b->node_id, "hello"));
    assert_int_equal(cordon_links_count(a->links), 1);
    assert_int_equal(cordon_links_half_open(a->links), 1);
    pump();
    /* B learnt A's node ID from A's certificate, A learnt B's. */
    assert_int_equal(b->delivered, 1);
    assert_string_equal(b->last_data, "hello");
    assert_memory_equal(b->last_from, a->node_id, CORDON_NODE_ID_LEN);
    assert_true(cordon_links_peer(a->links, sa(b), sizeof(b->addr), id));
    assert_memory_equal(id, b->node_id, CORDON_NODE_ID_LEN);
    assert_true(cordon_links_peer(b->links, sa(a), sizeof(a->addr), id));
    assert_memory_equal(id, a->node_id, CORDON_NODE_ID_LEN);
    assert_int_equal(a->ups, 1);
    assert_int_equal(b->ups, 1);
    assert_int_equal(cordon_links_half_open(a->links), 0);
    assert_int_equal(cordon_links_half_open(b->links), 0);

    /* Both directions over the same link, no new handshake. */
    must(send_str(b, a, NULL, "world"));
    must(send_str(a, b, NULL, "again"));
    pump();
    assert_int_equal(a->delivered, 1);
    assert_string_equal(a->last_data, "world");
    assert_memory_equal(a->last_from, b->node_id, CORDON_NODE_ID_LEN);
    assert_int_equal(b->delivered, 2);
    assert_string_equal(b->last_data, "again");

    assert_int_equal(ctr(a)->handshakes_full, 1);
    assert_int_equal(ctr(b)->handshakes_full, 1);
    assert_int_equal(ctr(b)->cookies_sent, 1);
    assert_int_equal(ctr(b)->cookies_verified, 1);
    assert_int_equal(ctr(a)->handshakes_failed + ctr(b)->handshakes_failed, 0);
    assert_int_equal(ctr(b)->records_in, 2);
    assert_int_equal(cordon_links_count(a->links), 1);
    assert_int_equal(cordon_links_count(b->links), 1);
    assert_int_equal(cordon_links_sessions(a->links), 1);
    assert_int_equal(oversize_sends, 0);

    /* A node ID other than the one the link proved is refused at once. */
    assert_int_equal(send_str(a, b, a->node_id, "x"), CORDON_ERR_CERT_NODE_ID);
    /* Caps on the API. */
    uint8_t big[CORDON_LINK_PLAINTEXT_MAX + 1] = {0};
    assert_int_equal(
        cordon_links_send(a->links, now_ms, sa(b), sizeof(b->addr), NULL, big, sizeof(big)),
        CORDON_ERR_TOO_LARGE);
    must(cordon_links_send(a->links, now_ms, sa(b), sizeof(b->addr), NULL, big, sizeof(big) - 1));
    pump();
    assert_int_equal(b->delivered, 3);
    assert_int_equal(oversize_sends, 0);
}

/* OpenSSL has no Ed25519 certificates in DTLS 1.2: the table says so at creation. */
static void test_ed25519_refused(void **state)
{
    (void)state;
    struct cordon_link_identity id;
    struct cordon_link_config cfg;
    struct cordon_link_host host = {
        .send_datagram = host_send, .deliver = host_deliver, .wall_time = host_wall};
    cordon_links *links = NULL;

    memset(&id, 0, sizeof(id));
    cordon_link_config_default(&cfg);
    must(cordon_key_generate(CORDON_KEY_ED25519, &id.key));
    id.cert = ca_cert; /* never looked at */
    id.ca = ca_cert;
    snprintf(id.overlay, sizeof(id.overlay), "%s", OVERLAY);
    assert_int_equal(cordon_links_new(&cfg, &id, &host, &links), CORDON_ERR_KEY_TYPE);
    assert_null(links);
    cordon_key_free(id.key);
    /* and a bad config */
    cfg.max_half_open = cfg.max_links + 1;
    id.key = NULL;
    assert_int_equal(cordon_links_new(&cfg, &id, &host, &links), CORDON_ERR_INVAL);
}

/* A bad node contacts B (B must refuse), and B contacts the bad node (B must refuse). */
static void expect_refused(const struct node_opts *bad_opts, size_t counter_offset)
{
    struct node *b = good(0x20, 4002);
    struct node *bad = node_new(bad_opts, 4009);
    const uint64_t *b_ctr =
        (const uint64_t *)(const void *)((const uint8_t *)ctr(b) + counter_offset);

    must(send_str(bad, b, b->node_id, "let me in"));
    pump();
    assert_int_equal(b->delivered, 0);
    assert_int_equal(*b_ctr, 1);
    assert_int_equal(ctr(b)->handshakes_failed, 1);
    assert_int_equal(ctr(b)->handshakes_full, 0);
    assert_int_equal(cordon_links_count(b->links), 0);
    assert_int_equal(cordon_links_count(bad->links), 0);
    assert_int_equal(bad->failed, 1); /* the bad side saw the alert */

    must(send_str(b, bad, NULL, "hi"));
    pump();
    assert_int_equal(bad->delivered, 0);
    assert_int_equal(*b_ctr, 2);
    assert_int_equal(b->failed, 1);
    assert_int_not_equal(b->last_fail, CORDON_OK);
    assert_false(b->last_fail_had_expected);
    assert_int_equal(cordon_links_count(b->links), 0);
    assert_int_equal(cordon_links_count(bad->links), 0);
}

static void test_refuse_foreign_ca(void **state)
{
    (void)state;
    struct node_opts o = {.id_byte = 0x40, .serial = 0x40, .foreign = true};
    expect_refused(&o, offsetof(struct cordon_link_counters, refused_untrusted));
}

static void test_refuse_expired(void **state)
{
    (void)state;
    struct node_opts o = {.id_byte = 0x41, .serial = 0x41, .nb = T0 - 10 * DAY, .na = T0};
    expect_refused(&o, offsetof(struct cordon_link_counters, refused_expired));
}

static void test_refuse_not_yet_valid(void **state)
{
    (void)state;
    struct node_opts o = {.id_byte = 0x42, .serial = 0x42, .nb = T0 + DAY, .na = T0 + 2 * DAY};
    expect_refused(&o, offsetof(struct cordon_link_counters, refused_not_yet));
}

static void test_refuse_revoked(void **state)
{
    (void)state;
    struct node_opts o = {.id_byte = 0x43, .serial = REVOKED_SERIAL};
    expect_refused(&o, offsetof(struct cordon_link_counters, refused_revoked));
}

static void test_refuse_wrong_node(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node *b = good(0x20, 4002);
    uint8_t other[CORDON_NODE_ID_LEN];

    node_id_of(0x77, other);
    must(send_str(a, b, other, "for 77"));
    pump();
    assert_int_equal(b->delivered, 0);
    assert_int_equal(ctr(a)->refused_wrong_node, 1);
    assert_int_equal(a->failed, 1);
    assert_int_equal(a->last_fail, CORDON_ERR_CERT_NODE_ID);
    assert_true(a->last_fail_had_expected);
    assert_int_equal(cordon_links_count(a->links), 0);
    assert_int_equal(cordon_links_count(b->links), 0);
    assert_int_equal(ctr(b)->handshakes_failed, 1);

    /* The right node at the same address is then fine. */
    must(send_str(a, b, b->node_id, "for 20"));
    pump();
    assert_int_equal(b->delivered, 1);
}

static void test_garbage_and_cookie(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node *b = good(0x20, 4002);
    struct sockaddr_in spoof = {.sin_family = AF_INET, .sin_port = htons(5555)};
    struct datagram hello;
    uint8_t junk[300];
    uint64_t garbage;

    spoof.sin_addr.s_addr = htonl(0x0a000001);
    /* Capture A's ClientHello instead of delivering it. */
    must(send_str(a, b, NULL, "x"));
    assert_int_equal(q_len, 1);
    hello = queue[q_head];
    drop_queue();

    /* Random bytes and every truncation of a real ClientHello, from a stranger. */
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    cordon_links_input(b->links, now_ms, (const struct sockaddr *)&spoof, sizeof(spoof), junk,
                       sizeof(junk));
    for (size_t len = 1; len < hello.len; len++)
        cordon_links_input(b->links, now_ms, (const struct sockaddr *)&spoof, sizeof(spoof),
                           hello.data, len);
    garbage = ctr(b)->dropped_garbage;
    assert_true(garbage >= hello.len); /* all of them */
    assert_int_equal(ctr(b)->cookies_sent, 0);
    /* Bit flips in the header of a ClientHello: never a link. */
    for (size_t i = 0; i < 25; i++) {
        struct datagram d = hello;
        d.data[i] ^= 0x40;
        cordon_links_input(b->links, now_ms, (const struct sockaddr *)&spoof, sizeof(spoof), d.data,
                           d.len);
    }
    /* Oversized. */
    uint8_t big[CORDON_LINK_DATAGRAM_MAX + 1];
    memset(big, 0x16, sizeof(big));
    cordon_links_input(b->links, now_ms, (const struct sockaddr *)&spoof, sizeof(spoof), big,
                       sizeof(big));
    assert_int_equal(ctr(b)->dropped_oversize, 1);

    /* A whole ClientHello from a spoofed source: a HelloVerifyRequest goes out, no state. */
    drop_queue();
    uint64_t cookies0 = ctr(b)->cookies_sent;
    for (int i = 0; i < 100; i++) {
        spoof.sin_port = htons((uint16_t)(6000 + i));
        cordon_links_input(b->links, now_ms, (const struct sockaddr *)&spoof, sizeof(spoof),
                           hello.data, hello.len);
    }
    assert_int_equal(ctr(b)->cookies_sent - cookies0, 100);
    assert_int_equal(ctr(b)->cookies_verified, 0);
    assert_int_equal(cordon_links_count(b->links), 0);
    assert_int_equal(cordon_links_half_open(b->links), 0);
    assert_int_equal(ctr(b)->links_opened, 0);
    drop_queue();

    /* The honest client still gets through (its ClientHello is retransmitted). */
    now_ms += 1000;
    cordon_links_input(b->links, now_ms, (const struct sockaddr *)&a->addr, sizeof(a->addr),
                       hello.data, hello.len);
    pump();
    assert_int_equal(b->delivered, 1);
    assert_int_equal(cordon_links_count(b->links), 1);
    /* Garbage on an established link does not kill it. */
    cordon_links_input(b->links, now_ms, (const struct sockaddr *)&a->addr, sizeof(a->addr), junk,
                       sizeof(junk));
    must(send_str(a, b, NULL, "still"));
    pump();
    assert_int_equal(b->delivered, 2);
}

static void test_resumption(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node *b = good(0x20, 4002);

    must(send_str(a, b, b->node_id, "one"));
    pump();
    assert_int_equal(ctr(a)->handshakes_full, 1);

    /* Orderly close: B hears close_notify and drops its side too. */
    must(cordon_links_close(a->links, now_ms, sa(b), sizeof(b->addr)));
    pump();
    assert_int_equal(cordon_links_count(a->links), 0);
    assert_int_equal(cordon_links_count(b->links), 0);
    must(send_str(a, b, b->node_id, "two"));
    pump();
    assert_int_equal(b->delivered, 2);
    assert_int_equal(ctr(a)->handshakes_resumed, 1);
    assert_int_equal(ctr(b)->handshakes_resumed, 1);
    assert_int_equal(ctr(a)->handshakes_full, 1);
    /* a started both: the counters of the handshakes a node starts say so */
    assert_int_equal(ctr(a)->handshakes_full_out, 1);
    assert_int_equal(ctr(a)->handshakes_resumed_out, 1);
    assert_int_equal(ctr(b)->handshakes_full_out, 0);
    assert_int_equal(ctr(b)->handshakes_resumed_out, 0);
    assert_memory_equal(b->last_from, a->node_id, CORDON_NODE_ID_LEN);

    /* A loses its link silently (close_notify lost): B still holds the old one, and A's new
     * handshake replaces it after the cookie round trip. */
    must(cordon_links_close(a->links, now_ms, sa(b), sizeof(b->addr)));
    drop_queue();
    assert_int_equal(cordon_links_count(b->links), 1);
    must(send_str(a, b, b->node_id, "three"));
    pump();
    assert_int_equal(b->delivered, 3);
    assert_string_equal(b->last_data, "three");
    assert_int_equal(ctr(a)->handshakes_resumed, 2);
    assert_int_equal(cordon_links_count(b->links), 1);
    must(send_str(b, a, NULL, "back"));
    pump();
    assert_int_equal(a->delivered, 1);
    assert_int_equal(ctr(a)->handshakes_full_offered, 0);

    /* b restarts and knows no session: a offers its stored one, b does not resume it, and
     * that full handshake is counted apart from those with nodes a held no session for. */
    must(cordon_links_close(a->links, now_ms, sa(b), sizeof(b->addr)));
    drop_queue();
    node_restart(b);
    must(send_str(a, b, b->node_id, "four"));
    pump();
    assert_int_equal(b->delivered, 4);
    assert_int_equal(ctr(a)->handshakes_full, 2);
    assert_int_equal(ctr(a)->handshakes_full_out, 2);
    assert_int_equal(ctr(a)->handshakes_full_offered, 1);
    assert_int_equal(ctr(a)->handshakes_resumed, 2);
}

static void test_revoked_after_crl_update(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node_opts o = {.id_byte = 0x50, .serial = 0x50};
    struct node *v = node_new(&o, 4005);
    struct cordon_revoked rev[2];
    cordon_crl *newer = NULL;

    must(send_str(v, a, NULL, "hi"));
    pump();
    assert_int_equal(a->delivered, 1);
    memset(rev, 0, sizeof(rev));
    rev[0].serial[0] = rev[1].serial[0] = 0x12;
    rev[0].serial[CORDON_SERIAL_LEN - 1] = REVOKED_SERIAL;
    rev[1].serial[CORDON_SERIAL_LEN - 1] = 0x50;
    rev[0].revoked_at = rev[1].revoked_at = T0;
    must(cordon_crl_create(ca_key, ca_cert, 2, T0, T0 + 30 * DAY, rev, 2, &newer));
    cordon_links_set_crl(a->links, now_ms, newer);
    assert_int_equal(ctr(a)->links_revoked, 1);
    assert_int_equal(cordon_links_count(a->links), 0);
    pump(); /* close_notify reaches v */
    assert_int_equal(cordon_links_count(v->links), 0);
    /* v's resumed handshake is checked against the new CRL too. */
    must(send_str(v, a, NULL, "again"));
    pump();
    assert_int_equal(a->delivered, 1);
    assert_int_equal(ctr(a)->refused_revoked, 1);

    /* v's certificate is remembered as verified by a: a stale CRL still refuses it, and
     * so does the wall clock past its notAfter, without the full chain check. */
    cordon_crl *stale = NULL;
    must(cordon_crl_create(ca_key, ca_cert, 3, T0 - 3 * DAY, NOW - DAY, NULL, 0, &stale));
    cordon_links_set_crl(a->links, now_ms, stale);
    struct node_opts wo = {.id_byte = 0x51, .serial = 0x51, .na = NOW + 100};
    struct node *w = node_new(&wo, 4006);
    cordon_links_set_crl(a->links, now_ms, crl);
    must(send_str(w, a, NULL, "w")); /* remembered now */
    pump();
    assert_int_equal(a->delivered, 2);
    must(cordon_links_close(w->links, now_ms, sa(a), sizeof(a->addr)));
    pump();
    cordon_links_set_crl(a->links, now_ms, stale);
    size_t other = ctr(a)->refused_other;
    must(send_str(w, a, NULL, "w again"));
    pump();
    assert_int_equal(a->delivered, 2);
    assert_int_equal(ctr(a)->refused_other, other + 1);
    cordon_links_set_crl(a->links, now_ms, crl);
    /* w's side of the refused resumption may still be up (the server refuses after the
     * client's Finished): w starts afresh. */
    must(cordon_links_close(w->links, now_ms, sa(a), sizeof(a->addr)));
    pump();
    wall_now = NOW + 100; /* w's notAfter; a's certificate is still good */
    now_ms += 5000;       /* a's handshake budget for 127.0.0.1 refills */
    must(send_str(w, a, NULL, "w late"));
    pump();
    assert_int_equal(a->delivered, 2);
    assert_int_equal(ctr(a)->refused_expired, 1);
    wall_now = NOW;
    cordon_crl_free(stale);
    cordon_crl_free(newer);
}

static void test_simultaneous_open(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node *b = good(0x20, 4002);

    must(send_str(a, b, b->node_id, "from a"));
    must(send_str(b, a, a->node_id, "from b"));
    pump();
    assert_int_equal(a->delivered, 1);
    assert_int_equal(b->delivered, 1);
    assert_string_equal(a->last_data, "from b");
    assert_string_equal(b->last_data, "from a");
    assert_int_equal(cordon_links_count(a->links), 1);
    assert_int_equal(cordon_links_count(b->links), 1);
    assert_int_equal(a->failed + b->failed, 0);
}

static void test_idle_and_lru(void **state)
{
    (void)state;
    struct cordon_link_config cfg;
    cordon_link_config_default(&cfg);
    cfg.max_links = 2;
    cfg.max_half_open = 2;
    struct node_opts so = {.id_byte = 0x20, .serial = 0x20, .config = &cfg};
    struct node *b = node_new(&so, 4002);
    struct node *c1 = good(0x11, 4011);
    struct node *c2 = good(0x12, 4012);
    struct node *c3 = good(0x13, 4013);

    must(send_str(c1, b, NULL, "1"));
    pump();
    now_ms += 10;
    must(send_str(c2, b, NULL, "2"));
    pump();
    now_ms += 10;
    must(send_str(c1, b, NULL, "1 again")); /* c2 is now the least recently used */
    pump();
    assert_int_equal(cordon_links_count(b->links), 2);
    now_ms += 10;
    must(send_str(c3, b, NULL, "3"));
    pump();
    assert_int_equal(b->delivered, 4);
    assert_int_equal(cordon_links_count(b->links), 2);
    assert_int_equal(ctr(b)->links_evicted, 1);
    assert_false(cordon_links_peer(b->links, sa(c2), sizeof(c2->addr), NULL));
    assert_true(cordon_links_peer(b->links, sa(c1), sizeof(c1->addr), NULL));
    assert_int_equal(cordon_links_count(c2->links), 0); /* it heard close_notify */

    /* Idle timeout. */
    uint64_t deadline = cordon_links_next_deadline(b->links, now_ms);
    assert_true(deadline > now_ms && deadline <= now_ms + cfg.idle_timeout_ms);
    now_ms += cfg.idle_timeout_ms;
    cordon_links_tick(b->links, now_ms);
    assert_int_equal(cordon_links_count(b->links), 0);
    assert_int_equal(ctr(b)->links_idle, 2);
    assert_int_equal(cordon_links_next_deadline(b->links, now_ms), UINT64_MAX);
    pump();
}

/* A link without records for CORDON_LINK_QUIET_MS gives its record buffers back and stays
 * up: records in and out take them again, without a handshake, and it still closes with
 * a close_notify its peer hears. */
static void test_quiet_link(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node *b = good(0x20, 4002);

    must(send_str(a, b, b->node_id, "hello"));
    pump();
    assert_int_equal(b->delivered, 1);
    /* Not before its time. */
    now_ms += CORDON_LINK_QUIET_MS - 1;
    cordon_links_tick(a->links, now_ms);
    cordon_links_tick(b->links, now_ms);
    assert_int_equal(ctr(a)->links_quieted + ctr(b)->links_quieted, 0);
    now_ms += 1;
    assert_int_equal(cordon_links_next_deadline(a->links, now_ms), now_ms);
    cordon_links_tick(a->links, now_ms);
    cordon_links_tick(b->links, now_ms);
    assert_int_equal(ctr(a)->links_quieted, 1);
    assert_int_equal(ctr(b)->links_quieted, 1);
    assert_int_equal(cordon_links_count(a->links), 1);
    assert_int_equal(cordon_links_count(b->links), 1);
    /* Once quiet, the next deadline is the idle timeout. */
    cordon_links_tick(a->links, now_ms);
    assert_int_equal(ctr(a)->links_quieted, 1);
    assert_true(cordon_links_next_deadline(a->links, now_ms) > now_ms + CORDON_LINK_QUIET_MS);

    /* b writes on its quiet link, a reads on its quiet one; then the other way. */
    must(send_str(b, a, NULL, "from b"));
    pump();
    assert_int_equal(a->delivered, 1);
    assert_string_equal(a->last_data, "from b");
    must(send_str(a, b, NULL, "from a"));
    pump();
    assert_int_equal(b->delivered, 2);
    assert_string_equal(b->last_data, "from a");
    assert_int_equal(ctr(a)->handshakes_full + ctr(a)->handshakes_resumed, 1);
    assert_int_equal(ctr(b)->handshakes_full + ctr(b)->handshakes_resumed, 1);
    /* Active again: quiet again after its time. */
    assert_int_equal(cordon_links_next_deadline(a->links, now_ms), now_ms + CORDON_LINK_QUIET_MS);

    /* Quiet, then closed by the idle timeout: the close_notify goes out all the same. */
    now_ms += CORDON_LINK_QUIET_MS;
    cordon_links_tick(a->links, now_ms);
    cordon_links_tick(b->links, now_ms);
    assert_int_equal(ctr(a)->links_quieted, 2);
    now_ms += CORDON_LINK_DEFAULT_IDLE_MS;
    cordon_links_tick(a->links, now_ms);
    assert_int_equal(ctr(a)->links_idle, 1);
    assert_int_equal(cordon_links_count(a->links), 0);
    pump();
    assert_int_equal(cordon_links_count(b->links), 0);
    assert_int_equal(ctr(b)->links_idle, 0);
    assert_int_equal(oversize_sends, 0);
}

/* A link that carried one exchange and was not used again closes CORDON_LINK_BRIEF_IDLE_MS
 * after it, at both ends; one used again after a quiet spell keeps the whole idle timeout.
 * The next message after an early close resumes the session. */
static void test_brief_link(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node *b = good(0x20, 4002);
    struct node *c = good(0x30, 4003);

    must(send_str(a, b, b->node_id, "once"));
    must(send_str(a, c, c->node_id, "once"));
    pump();
    must(send_str(c, a, NULL, "answer"));
    pump();
    now_ms += CORDON_LINK_QUIET_MS;
    cordon_links_tick(a->links, now_ms);
    cordon_links_tick(b->links, now_ms);
    cordon_links_tick(c->links, now_ms);
    assert_int_equal(ctr(a)->links_quieted, 2);
    /* a and c again, after the quiet spell: that link is reused. */
    must(send_str(a, c, c->node_id, "again"));
    pump();
    assert_int_equal(c->delivered, 2);
    uint64_t again_ms = now_ms;
    now_ms += CORDON_LINK_BRIEF_IDLE_MS - CORDON_LINK_QUIET_MS - 1;
    cordon_links_tick(a->links, now_ms);
    cordon_links_tick(b->links, now_ms);
    assert_int_equal(cordon_links_count(a->links), 2);
    assert_int_equal(cordon_links_count(b->links), 1);
    now_ms += 1;
    assert_int_equal(cordon_links_next_deadline(b->links, now_ms), now_ms);
    cordon_links_tick(a->links, now_ms);
    cordon_links_tick(b->links, now_ms);
    pump();
    assert_int_equal(ctr(a)->links_idle, 1);
    assert_int_equal(ctr(b)->links_idle, 1);
    assert_int_equal(cordon_links_count(b->links), 0);
    assert_false(cordon_links_peer(a->links, sa(b), sizeof(b->addr), NULL));
    assert_true(cordon_links_peer(a->links, sa(c), sizeof(c->addr), NULL));
    /* The reused link: its idle timeout from its last record. */
    now_ms = again_ms + CORDON_LINK_DEFAULT_IDLE_MS - 1;
    cordon_links_tick(a->links, now_ms);
    cordon_links_tick(c->links, now_ms);
    assert_int_equal(cordon_links_count(a->links), 1);
    assert_int_equal(cordon_links_count(c->links), 1);
    now_ms += 1;
    cordon_links_tick(a->links, now_ms);
    pump();
    assert_int_equal(cordon_links_count(a->links), 0);
    assert_int_equal(cordon_links_count(c->links), 0);
    /* b again: resumed. */
    must(send_str(a, b, b->node_id, "later"));
    pump();
    assert_int_equal(b->delivered, 2);
    assert_int_equal(ctr(a)->handshakes_full, 2);
    assert_int_equal(ctr(a)->handshakes_resumed, 1);
}

/* The session store keeps at most max_sessions, dropping the least recently used, and a
 * session taken out of it (serialized) still resumes. */
static void test_session_store_lru(void **state)
{
    (void)state;
    struct cordon_link_config cfg;
    cordon_link_config_default(&cfg);
    cfg.max_sessions = 2;
    struct node_opts ao = {.id_byte = 0x10, .serial = 0x10, .config = &cfg};
    struct node *a = node_new(&ao, 4001);
    struct node *s[3] = {good(0x21, 4021), good(0x22, 4022), good(0x23, 4023)};

    for (size_t i = 0; i < 3; i++) {
        must(send_str(a, s[i], s[i]->node_id, "hello"));
        pump();
        now_ms += 10;
    }
    assert_int_equal(ctr(a)->handshakes_full, 3);
    assert_int_equal(cordon_links_sessions(a->links), 2); /* s[0]'s went first */
    for (size_t i = 0; i < 3; i++)
        must(cordon_links_close(a->links, now_ms, sa(s[i]), sizeof(s[i]->addr)));
    pump();
    assert_int_equal(cordon_links_count(a->links), 0);

    must(send_str(a, s[2], s[2]->node_id, "again")); /* stored: resumed */
    pump();
    assert_int_equal(ctr(a)->handshakes_resumed, 1);
    assert_int_equal(s[2]->delivered, 2);
    must(send_str(a, s[0], s[0]->node_id, "again")); /* dropped: full */
    pump();
    assert_int_equal(ctr(a)->handshakes_full, 4);
    assert_int_equal(s[0]->delivered, 2);
    assert_int_equal(cordon_links_sessions(a->links), 2);
}

/* Sessions are kept at their own size in one arena that grows, and reclaims the bytes of
 * dropped sessions by moving the others: with room for 4 and 6 servers visited three
 * times over (every visit stores a session again, each replacing the last or the least
 * recently used), the arena is rebuilt many times, and every session left in it still
 * resumes. */
static void test_session_arena(void **state)
{
    (void)state;
    struct cordon_link_config cfg;
    cordon_link_config_default(&cfg);
    cfg.max_sessions = 4;
    struct node_opts ao = {.id_byte = 0x10, .serial = 0x10, .config = &cfg};
    struct node *a = node_new(&ao, 4001);
    struct node *s[6];
    for (size_t i = 0; i < 6; i++)
        s[i] = good((uint8_t)(0x21 + i), (uint16_t)(4021 + i));

    for (int round = 0; round < 3; round++) {
        /* Round 0 meets all six (the last four stay stored); rounds 1 and 2 the last four. */
        for (size_t i = round == 0 ? 0 : 2; i < 6; i++) {
            must(send_str(a, s[i], s[i]->node_id, "hello"));
            pump();
            now_ms += 10;
            must(cordon_links_close(a->links, now_ms, sa(s[i]), sizeof(s[i]->addr)));
            pump();
            assert_int_equal(cordon_links_sessions(a->links), i < 4 && round == 0 ? i + 1 : 4);
        }
        assert_int_equal(ctr(a)->handshakes_full, 6);
        assert_int_equal(ctr(a)->handshakes_resumed, (uint64_t)round * 4);
    }
    for (size_t i = 2; i < 6; i++)
        assert_int_equal(s[i]->delivered, 3);
    assert_int_equal(ctr(a)->sessions_too_large, 0);
}

static void test_handshake_timeout_and_caps(void **state)
{
    (void)state;
    struct cordon_link_config cfg;
    cordon_link_config_default(&cfg);
    cfg.max_half_open = 2;
    struct node_opts ao = {.id_byte = 0x10, .serial = 0x10, .config = &cfg};
    struct node *a = node_new(&ao, 4001);
    struct sockaddr_in nowhere = {.sin_family = AF_INET};

    nowhere.sin_addr.s_addr = htonl(0x0a000002);
    for (int i = 0; i < 3; i++) {
        nowhere.sin_port = htons((uint16_t)(7000 + i));
        cordon_err err = cordon_links_send(a->links, now_ms, (const struct sockaddr *)&nowhere,
                                           sizeof(nowhere), NULL, (const uint8_t *)"x", 1);
        assert_int_equal(err, i < 2 ? CORDON_OK : CORDON_ERR_BUSY);
    }
    assert_int_equal(cordon_links_half_open(a->links), 2);
    assert_int_equal(ctr(a)->dropped_half_open, 1);
    /* The queue of one link is bounded. */
    nowhere.sin_port = htons(7000);
    uint8_t chunk[1000] = {0};
    cordon_err err = CORDON_OK;
    for (int i = 0; i < 20 && err == CORDON_OK; i++)
        err = cordon_links_send(a->links, now_ms, (const struct sockaddr *)&nowhere,
                                sizeof(nowhere), NULL, chunk, sizeof(chunk));
    assert_int_equal(err, CORDON_ERR_BUSY);
    assert_int_equal(ctr(a)->dropped_queue, 1);
    drop_queue();
    now_ms += cfg.handshake_timeout_ms;
    cordon_links_tick(a->links, now_ms);
    assert_int_equal(cordon_links_count(a->links), 0);
    assert_int_equal(ctr(a)->handshakes_timeout, 2);
    assert_int_equal(a->failed, 2);
    assert_int_equal(a->last_fail, CORDON_ERR_NETWORK);
    drop_queue();
}

/* Only the link of the node the new CRL lists goes; the others keep carrying data. What
 * each link proved (node ID, serial, notAfter) is there to be read. */
static void test_crl_swap_drops_only_revoked(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node *b = good(0x20, 4002);
    struct node *c = good(0x30, 4003);
    struct node_opts vo = {.id_byte = 0x50, .serial = 0x50, .na = T0 + 5 * DAY};
    struct node *v = node_new(&vo, 4005);
    struct cordon_link_peer_cert pc;
    struct cordon_revoked rev[2];
    cordon_crl *newer = NULL;

    must(send_str(b, a, NULL, "b"));
    must(send_str(c, a, NULL, "c"));
    must(send_str(v, a, NULL, "v"));
    pump();
    assert_int_equal(a->delivered, 3);
    assert_int_equal(cordon_links_count(a->links), 3);
    assert_true(cordon_links_peer_cert(a->links, sa(v), sizeof(v->addr), &pc));
    assert_memory_equal(pc.node_id, v->node_id, CORDON_NODE_ID_LEN);
    assert_int_equal(pc.serial[0], 0x12);
    assert_int_equal(pc.serial[CORDON_SERIAL_LEN - 1], 0x50);
    assert_int_equal(pc.not_after, T0 + 5 * DAY);
    assert_true(cordon_links_peer_cert(v->links, sa(a), sizeof(a->addr), &pc));
    assert_memory_equal(pc.node_id, a->node_id, CORDON_NODE_ID_LEN);
    assert_int_equal(pc.serial[CORDON_SERIAL_LEN - 1], 0x10);
    struct sockaddr_in none = {.sin_family = AF_INET, .sin_port = htons(4999)};
    assert_false(
        cordon_links_peer_cert(a->links, (const struct sockaddr *)&none, sizeof(none), &pc));

    memset(rev, 0, sizeof(rev));
    rev[0].serial[0] = rev[1].serial[0] = 0x12;
    rev[0].serial[CORDON_SERIAL_LEN - 1] = REVOKED_SERIAL;
    rev[1].serial[CORDON_SERIAL_LEN - 1] = 0x50;
    rev[0].revoked_at = rev[1].revoked_at = T0;
    must(cordon_crl_create(ca_key, ca_cert, 2, T0, T0 + 30 * DAY, rev, 2, &newer));
    cordon_links_set_crl(a->links, now_ms, newer);
    assert_int_equal(ctr(a)->links_revoked, 1);
    assert_int_equal(cordon_links_count(a->links), 2);
    assert_false(cordon_links_peer(a->links, sa(v), sizeof(v->addr), NULL));
    assert_false(cordon_links_peer_cert(a->links, sa(v), sizeof(v->addr), &pc));
    pump(); /* v hears close_notify */
    assert_int_equal(cordon_links_count(v->links), 0);
    /* b and c go on over the links they had: no new handshake. */
    must(send_str(a, b, b->node_id, "to b"));
    must(send_str(a, c, c->node_id, "to c"));
    must(send_str(b, a, NULL, "b again"));
    pump();
    assert_int_equal(b->delivered, 1);
    assert_int_equal(c->delivered, 1);
    assert_int_equal(a->delivered, 4);
    assert_int_equal(ctr(a)->handshakes_full, 3);
    /* The same CRL again closes nothing more. */
    cordon_links_set_crl(a->links, now_ms, newer);
    assert_int_equal(ctr(a)->links_revoked, 1);
    assert_int_equal(cordon_links_count(a->links), 2);
    /* a starting a link to v is refused too, on a's side. */
    must(send_str(a, v, v->node_id, "to v"));
    pump();
    assert_int_equal(v->delivered, 0);
    assert_int_equal(ctr(a)->refused_revoked, 1);
    assert_int_equal(a->failed, 1);
    assert_int_equal(a->last_fail, CORDON_ERR_CERT_REVOKED);
    cordon_links_set_crl(a->links, now_ms, crl);
    cordon_crl_free(newer);
}

/* An established link whose peer certificate passes its notAfter is closed from the tick,
 * on the wall clock, and counted; the deadline says when. */
static void test_expired_link_closed(void **state)
{
    (void)state;
    struct node_opts ao = {.id_byte = 0x10, .serial = 0x10, .nb = T0, .na = NOW + 5};
    struct node *a = node_new(&ao, 4001);
    struct node *b = good(0x20, 4002);

    must(send_str(a, b, b->node_id, "hi"));
    pump();
    assert_int_equal(b->delivered, 1);
    /* b holds a's certificate: 5 s left, less than the idle timeout of a link used once
     * (CORDON_LINK_BRIEF_IDLE_MS). First the link goes quiet (CORDON_LINK_QUIET_MS without
     * a record), then it expires, and its close_notify needs the buffers back. */
    uint64_t up_ms = now_ms;
    assert_int_equal(cordon_links_next_deadline(b->links, now_ms), now_ms + CORDON_LINK_QUIET_MS);
    now_ms += CORDON_LINK_QUIET_MS;
    cordon_links_tick(b->links, now_ms);
    assert_int_equal(ctr(b)->links_quieted, 1);
    assert_int_equal(cordon_links_next_deadline(b->links, now_ms), up_ms + 5000);

    /* The monotonic clock ran ahead of the wall clock: not expired yet, and the deadline
     * moves on instead of coming back at once. */
    now_ms = up_ms + 5000;
    wall_now = NOW + 4;
    cordon_links_tick(b->links, now_ms);
    assert_int_equal(cordon_links_count(b->links), 1);
    assert_int_equal(ctr(b)->links_expired, 0);
    uint64_t d = cordon_links_next_deadline(b->links, now_ms);
    assert_true(d > now_ms && d <= now_ms + 1000);

    now_ms += 1000;
    wall_now = NOW + 5; /* notAfter: expired (OpenSSL's rule) */
    cordon_links_tick(b->links, now_ms);
    assert_int_equal(ctr(b)->links_expired, 1);
    assert_int_equal(cordon_links_count(b->links), 0);
    pump(); /* a hears close_notify */
    assert_int_equal(cordon_links_count(a->links), 0);
    /* b's own certificate is still good: a's link (a holds b's) was not expired by a. */
    assert_int_equal(ctr(a)->links_expired, 0);
    /* a's resumed session carries the expired certificate: b refuses it. */
    must(send_str(a, b, b->node_id, "again"));
    pump();
    assert_int_equal(b->delivered, 1);
    assert_int_equal(ctr(b)->refused_expired, 1);
    assert_int_equal(cordon_links_count(b->links), 0);
}

/* A CRL swap that finds an expired peer certificate closes its link as expired. */
static void test_crl_swap_counts_expiry(void **state)
{
    (void)state;
    struct node_opts ao = {.id_byte = 0x10, .serial = 0x10, .nb = T0, .na = NOW + 100};
    struct node *a = node_new(&ao, 4001);
    struct node *b = good(0x20, 4002);

    must(send_str(a, b, b->node_id, "hi"));
    pump();
    assert_int_equal(cordon_links_count(b->links), 1);
    wall_now = NOW + 100; /* before any tick saw it */
    cordon_links_set_crl(b->links, now_ms, crl);
    assert_int_equal(ctr(b)->links_expired, 1);
    assert_int_equal(ctr(b)->links_revoked, 0);
    assert_int_equal(cordon_links_count(b->links), 0);
    pump();
}

/* A client does not try to resume a session whose server certificate has expired. */
static void test_no_resumption_of_expired_server(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node_opts bo = {.id_byte = 0x20, .serial = 0x20, .nb = T0, .na = NOW + 100};
    struct node *b = node_new(&bo, 4002);

    must(send_str(a, b, b->node_id, "one"));
    pump();
    assert_int_equal(cordon_links_sessions(a->links), 1);
    must(cordon_links_close(a->links, now_ms, sa(b), sizeof(b->addr)));
    pump();
    /* Before expiry the session is used. */
    must(send_str(a, b, b->node_id, "two"));
    pump();
    assert_int_equal(ctr(a)->handshakes_resumed, 1);
    must(cordon_links_close(a->links, now_ms, sa(b), sizeof(b->addr)));
    pump();
    wall_now = NOW + 100;
    now_ms += 1000;
    must(send_str(a, b, b->node_id, "three"));
    assert_int_equal(cordon_links_sessions(a->links), 0); /* dropped, not offered */
    pump();
    /* The full handshake shows b's expired certificate, which a refuses. */
    assert_int_equal(ctr(a)->handshakes_resumed, 1);
    assert_int_equal(ctr(a)->refused_expired, 1);
    assert_int_equal(a->last_fail, CORDON_ERR_CERT_EXPIRED);
    assert_int_equal(b->delivered, 2);
}

/* A renewed certificate: new handshakes present it, the links of before keep going, the
 * stored sessions are dropped; a certificate of another key changes nothing. */
static void test_set_cert(void **state)
{
    (void)state;
    struct node *a = good(0x10, 4001);
    struct node *b = good(0x20, 4002);
    struct node *c = good(0x30, 4003);
    struct node *d = good(0x40, 4004);
    struct cordon_link_peer_cert pc;

    must(send_str(a, b, b->node_id, "before"));
    pump();
    assert_int_equal(b->delivered, 1);
    assert_int_equal(cordon_links_sessions(a->links), 1);

    /* d's certificate does not certify a's key. */
    assert_int_equal(cordon_links_set_cert(a->links, now_ms, d->id.cert), CORDON_ERR_KEY_TYPE);
    assert_int_equal(cordon_links_set_cert(a->links, now_ms, NULL), CORDON_ERR_INVAL);
    assert_int_equal(cordon_links_sessions(a->links), 1);
    must(send_str(d, a, a->node_id, "d"));
    pump();
    assert_int_equal(a->delivered, 1);
    assert_true(cordon_links_peer_cert(d->links, sa(a), sizeof(a->addr), &pc));
    assert_int_equal(pc.serial[CORDON_SERIAL_LEN - 1], 0x10); /* still the first one */

    cordon_cert *renewed = issue_for(a, 0x11, NOW - 60, NOW + 20 * DAY);
    must(cordon_links_set_cert(a->links, now_ms, renewed));
    cordon_cert_free(renewed); /* copied by the table */
    assert_int_equal(cordon_links_sessions(a->links), 0);
    /* The link to b goes on, both ways, without a handshake. */
    must(send_str(a, b, b->node_id, "after"));
    must(send_str(b, a, a->node_id, "back"));
    pump();
    assert_int_equal(b->delivered, 2);
    assert_string_equal(b->last_data, "after");
    assert_int_equal(a->delivered, 2);
    assert_true(cordon_links_peer_cert(b->links, sa(a), sizeof(a->addr), &pc));
    assert_int_equal(pc.serial[CORDON_SERIAL_LEN - 1], 0x10);
    assert_int_equal(ctr(b)->handshakes_full, 1);

    /* c comes to a (a serves): it sees the new certificate, same node ID. */
    must(send_str(c, a, a->node_id, "c"));
    pump();
    assert_int_equal(a->delivered, 3);
    assert_true(cordon_links_peer_cert(c->links, sa(a), sizeof(a->addr), &pc));
    assert_memory_equal(pc.node_id, a->node_id, CORDON_NODE_ID_LEN);
    assert_int_equal(pc.serial[CORDON_SERIAL_LEN - 1], 0x11);
    assert_int_equal(pc.not_after, NOW + 20 * DAY);
    /* a goes to b again (a is the client, no session left): a full handshake, and b sees
     * the new certificate too. */
    must(cordon_links_close(a->links, now_ms, sa(b), sizeof(b->addr)));
    pump();
    must(send_str(a, b, b->node_id, "new link"));
    pump();
    assert_int_equal(b->delivered, 3);
    assert_int_equal(ctr(b)->handshakes_full, 2);
    assert_int_equal(ctr(a)->handshakes_resumed, 0);
    assert_true(cordon_links_peer_cert(b->links, sa(a), sizeof(a->addr), &pc));
    assert_int_equal(pc.serial[CORDON_SERIAL_LEN - 1], 0x11);
    assert_int_equal(a->failed + b->failed + c->failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_handshake_and_data, test_teardown),
        cmocka_unit_test_teardown(test_ed25519_refused, test_teardown),
        cmocka_unit_test_teardown(test_refuse_foreign_ca, test_teardown),
        cmocka_unit_test_teardown(test_refuse_expired, test_teardown),
        cmocka_unit_test_teardown(test_refuse_not_yet_valid, test_teardown),
        cmocka_unit_test_teardown(test_refuse_revoked, test_teardown),
        cmocka_unit_test_teardown(test_refuse_wrong_node, test_teardown),
        cmocka_unit_test_teardown(test_garbage_and_cookie, test_teardown),
        cmocka_unit_test_teardown(test_resumption, test_teardown),
        cmocka_unit_test_teardown(test_revoked_after_crl_update, test_teardown),
        cmocka_unit_test_teardown(test_simultaneous_open, test_teardown),
        cmocka_unit_test_teardown(test_quiet_link, test_teardown),
        cmocka_unit_test_teardown(test_brief_link, test_teardown),
        cmocka_unit_test_teardown(test_session_store_lru, test_teardown),
        cmocka_unit_test_teardown(test_session_arena, test_teardown),
        cmocka_unit_test_teardown(test_idle_and_lru, test_teardown),
        cmocka_unit_test_teardown(test_handshake_timeout_and_caps, test_teardown),
        cmocka_unit_test_teardown(test_crl_swap_drops_only_revoked, test_teardown),
        cmocka_unit_test_teardown(test_expired_link_closed, test_teardown),
        cmocka_unit_test_teardown(test_crl_swap_counts_expiry, test_teardown),
        cmocka_unit_test_teardown(test_no_resumption_of_expired_server, test_teardown),
        cmocka_unit_test_teardown(test_set_cert, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
