/*
 * tests/unit/test_msg.c — the overlay message codec (wire/msg.h): known-answer bytes that
 * pin the layout, round trips for every type, truncation, trailing-byte, bit-flip and
 * byte-value sweeps over known-good encodings (whatever still decodes must re-encode to
 * the very same bytes), each strictness rule with its exact error, the encoder refusing
 * what the decoder refuses, canaries around the encoder's output and an untouched output
 * struct on every failed decode. The storage messages (STORE .. WANT) get the same, plus
 * objects at their cap and the STORED codes against the store's refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "wire/frag.h"
#include "wire/msg.h"

#define CANARY 0xCC
#define POISON 0xA5

/* ---- building messages --------------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
}

static bool is_request(uint8_t type)
{
    return type == CORDON_MSG_PING || type == CORDON_MSG_FIND_NODE || type == CORDON_MSG_STORE ||
           type == CORDON_MSG_FETCH || type == CORDON_MSG_SUMMARY;
}

static void header(struct cordon_msg *m, uint8_t type, uint32_t txid)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->flags = is_request(type) ? 0 : CORDON_MSG_FLAG_RESPONSE;
    m->txid = txid;
}

/* Bytes standing in for an encoded object: the codec only frames them, so any will do.
 * Filled once, CORDON_OBJECT_MAX of them, for every STORE and OBJECT below. */
static uint8_t object_bytes[CORDON_OBJECT_MAX + 1];

static const uint8_t *object_of(size_t len)
{
    assert_true(len <= sizeof(object_bytes));
    if (object_bytes[0] == 0)
        fill(object_bytes, sizeof(object_bytes), 4242);
    return object_bytes;
}

static void store_msg(struct cordon_msg *m, uint32_t txid, size_t len)
{
    header(m, CORDON_MSG_STORE, txid);
    m->u.store.object = object_of(len);
    m->u.store.len = len;
}

static void stored_msg(struct cordon_msg *m, uint32_t txid, uint16_t code, uint64_t seq)
{
    header(m, CORDON_MSG_STORED, txid);
    m->u.stored.code = code;
    m->u.stored.seq = seq;
}

static void fetch_msg(struct cordon_msg *m, uint32_t txid, unsigned seed)
{
    header(m, CORDON_MSG_FETCH, txid);
    fill(m->u.fetch.key, sizeof(m->u.fetch.key), seed);
}

/* OBJECT: len 0 means not found. */
static void object_msg(struct cordon_msg *m, uint32_t txid, size_t len)
{
    header(m, CORDON_MSG_OBJECT, txid);
    if (len > 0) {
        m->u.object.found = true;
        m->u.object.object = object_of(len);
        m->u.object.len = len;
    }
}

/* count entries with strictly increasing keys (the first byte counts up) and assorted seqs. */
static void summary_msg(struct cordon_msg *m, uint32_t txid, unsigned count)
{
    header(m, CORDON_MSG_SUMMARY, txid);
    m->u.summary.count = (uint8_t)count;
    for (unsigned i = 0; i < count; i++) {
        struct cordon_summary_entry *e = &m->u.summary.entries[i];
        fill(e->key, sizeof(e->key), 500 + i);
        e->key[0] = (uint8_t)(i * 13);
        e->seq = i == 0 ? 0 : i == 1 ? UINT64_MAX : (uint64_t)i << 40 | i;
    }
}

static void want_msg(struct cordon_msg *m, uint32_t txid, const uint8_t *index, unsigned count)
{
    header(m, CORDON_MSG_WANT, txid);
    m->u.want.count = (uint8_t)count;
    if (count > 0)
        memcpy(m->u.want.index, index, count);
}

static void contact(struct cordon_contact *c, unsigned seed, uint8_t family, uint16_t port)
{
    memset(c, 0, sizeof(*c));
    fill(c->id, sizeof(c->id), seed);
    c->addr.family = family;
    fill(c->addr.ip, family == 4 ? 4 : 16, seed + 1000);
    c->addr.port = port;
}

/* count contacts; v6_every 0: all IPv4, 1: all IPv6, n: every n-th IPv6. */
static void nodes(struct cordon_msg *m, uint32_t txid, unsigned count, unsigned v6_every)
{
    header(m, CORDON_MSG_NODES, txid);
    m->u.nodes.count = (uint8_t)count;
    for (unsigned i = 0; i < count; i++) {
        bool v6 = v6_every != 0 && i % v6_every == 0;
        uint16_t port = i == 0 ? 1 : i == 1 ? 65535 : (uint16_t)(4000 + i);
        contact(&m->u.nodes.contacts[i], i, v6 ? 6 : 4, port);
    }
}

static void error_msg(struct cordon_msg *m, uint32_t txid, uint16_t code, const char *text)
{
    header(m, CORDON_MSG_ERROR, txid);
    m->u.error.code = code;
    assert_true(strlen(text) < sizeof(m->u.error.text));
    memcpy(m->u.error.text, text, strlen(text) + 1);
}

/* Every text byte the decoder accepts, ' ' to '~', cut to CORDON_ERROR_TEXT_MAX. */
static void max_text(char *out)
{
    for (size_t i = 0; i < CORDON_ERROR_TEXT_MAX; i++)
        out[i] = (char)(0x20 + i % (0x7f - 0x20));
    out[CORDON_ERROR_TEXT_MAX] = '\0';
}

enum { N_VALID = 36 };

static const uint8_t want_all[CORDON_SUMMARY_MAX] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                     8, 9, 10, 11, 12, 13, 14, 15};

/* One or more good messages of every type and shape. */
static struct cordon_msg *valid_msgs(void)
{
    struct cordon_msg *v = calloc(N_VALID, sizeof(*v));
    assert_non_null(v);
    char text[CORDON_ERROR_TEXT_MAX + 1];
    max_text(text);
    size_t i = 0;
    header(&v[i++], CORDON_MSG_PING, 0);
    header(&v[i++], CORDON_MSG_PING, 0xffffffffu);
    header(&v[i++], CORDON_MSG_PONG, 0x01020304u);
    header(&v[i], CORDON_MSG_FIND_NODE, 7);
    fill(v[i++].u.find_node.target, CORDON_NODE_ID_LEN, 99);
    nodes(&v[i++], 8, 0, 0);
    nodes(&v[i++], 9, 1, 0);                 /* one IPv4 */
    nodes(&v[i++], 10, 1, 1);                /* one IPv6 */
    nodes(&v[i++], 11, 5, 2);                /* mixed */
    nodes(&v[i++], 12, CORDON_NODES_MAX, 3); /* full, mixed */
    nodes(&v[i++], 13, CORDON_NODES_MAX, 1); /* full, all IPv6: the largest message */
    error_msg(&v[i++], 14, CORDON_MSGERR_RATE_LIMITED, "");
    error_msg(&v[i++], 15, CORDON_MSGERR_UNSUPPORTED, "not served here");
    error_msg(&v[i++], 16, 0xffff, text);
    error_msg(&v[i++], 17, CORDON_MSGERR_INTERNAL, " ~");
    /* Storage: objects small enough for the sweeps (the largest have their own tests). */
    store_msg(&v[i++], 18, 1);
    store_msg(&v[i++], 19, 300);
    stored_msg(&v[i++], 20, CORDON_STORED_ACCEPTED, 1);
    stored_msg(&v[i++], 21, CORDON_STORED_STALE, 0x0102030405060708u);
    stored_msg(&v[i++], 22, CORDON_STORED_INTERNAL, 0);
    stored_msg(&v[i++], 23, 0xffff, UINT64_MAX); /* a code this codec does not know */
    fetch_msg(&v[i++], 24, 7);
    fetch_msg(&v[i++], 25, 8);
    memset(v[i - 1].u.fetch.key + CORDON_NODE_ID_LEN, 0, CORDON_NODE_ID_LEN); /* owned entry */
    object_msg(&v[i++], 26, 0);
    object_msg(&v[i++], 27, 1);
    object_msg(&v[i++], 28, 257);
    summary_msg(&v[i++], 29, 1);
    summary_msg(&v[i++], 30, 2);
    summary_msg(&v[i++], 31, 5);
    summary_msg(&v[i++], 32, CORDON_SUMMARY_MAX); /* the largest SUMMARY */
    /* Keys that differ only in their last byte. */
    summary_msg(&v[i], 33, 3);
    for (unsigned e = 0; e < 3; e++) {
        memset(v[i].u.summary.entries[e].key, 0x77, CORDON_OBJECT_ENTRY_KEY_LEN);
        v[i].u.summary.entries[e].key[CORDON_OBJECT_ENTRY_KEY_LEN - 1] = (uint8_t)(0xfd + e);
    }
    i++;
    want_msg(&v[i++], 34, NULL, 0);
    want_msg(&v[i++], 35, (const uint8_t[]){0}, 1);
    want_msg(&v[i++], 36, (const uint8_t[]){CORDON_SUMMARY_MAX - 1}, 1);
    want_msg(&v[i++], 37, (const uint8_t[]){1, 4, 9}, 3);
    want_msg(&v[i++], 38, want_all, CORDON_SUMMARY_MAX);
    stored_msg(&v[i++], 39, CORDON_STORED_CAPACITY, 42);
    assert_int_equal(i, N_VALID);
    return v;
}

static size_t expected_len(const struct cordon_msg *m)
{
    size_t n = CORDON_MSG_HEADER_LEN;
    switch (m->type) {
    case CORDON_MSG_FIND_NODE:
        return n + CORDON_NODE_ID_LEN;
    case CORDON_MSG_NODES:
        n += 1;
        for (unsigned i = 0; i < m->u.nodes.count; i++)
            n += CORDON_NODE_ID_LEN + 1 + (m->u.nodes.contacts[i].addr.family == 4 ? 4 : 16) + 2;
        return n;
    case CORDON_MSG_ERROR:
        return n + 2 + 1 + strlen(m->u.error.text);
    case CORDON_MSG_STORE:
        return n + 4 + m->u.store.len;
    case CORDON_MSG_STORED:
        return n + 2 + 8;
    case CORDON_MSG_FETCH:
        return n + CORDON_OBJECT_ENTRY_KEY_LEN;
    case CORDON_MSG_OBJECT:
        return n + 1 + (m->u.object.found ? 4 + m->u.object.len : 0);
    case CORDON_MSG_SUMMARY:
        return n + 1 + m->u.summary.count * (size_t)(CORDON_OBJECT_ENTRY_KEY_LEN + 8);
    case CORDON_MSG_WANT:
        return n + 1 + m->u.want.count;
    default:
        return n;
    }
}

static void assert_msg_equal(const struct cordon_msg *a, const struct cordon_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->txid, b->txid);
    switch (a->type) {
    case CORDON_MSG_FIND_NODE:
        assert_memory_equal(a->u.find_node.target, b->u.find_node.target, CORDON_NODE_ID_LEN);
        break;
    case CORDON_MSG_NODES:
        assert_int_equal(a->u.nodes.count, b->u.nodes.count);
        for (unsigned i = 0; i < a->u.nodes.count; i++) {
            const struct cordon_contact *x = &a->u.nodes.contacts[i];
            const struct cordon_contact *y = &b->u.nodes.contacts[i];
            assert_memory_equal(x->id, y->id, sizeof(x->id));
            assert_int_equal(x->addr.family, y->addr.family);
            assert_memory_equal(x->addr.ip, y->addr.ip, sizeof(x->addr.ip));
            assert_int_equal(x->addr.port, y->addr.port);
        }
        break;
    case CORDON_MSG_ERROR:
        assert_int_equal(a->u.error.code, b->u.error.code);
        assert_string_equal(a->u.error.text, b->u.error.text);
        break;
    case CORDON_MSG_STORE:
        assert_int_equal(a->u.store.len, b->u.store.len);
        assert_memory_equal(a->u.store.object, b->u.store.object, a->u.store.len);
        break;
    case CORDON_MSG_STORED:
        assert_int_equal(a->u.stored.code, b->u.stored.code);
        assert_true(a->u.stored.seq == b->u.stored.seq);
        break;
    case CORDON_MSG_FETCH:
        assert_memory_equal(a->u.fetch.key, b->u.fetch.key, CORDON_OBJECT_ENTRY_KEY_LEN);
        break;
    case CORDON_MSG_OBJECT:
        assert_int_equal(a->u.object.found, b->u.object.found);
        assert_int_equal(a->u.object.len, b->u.object.len);
        if (a->u.object.found)
            assert_memory_equal(a->u.object.object, b->u.object.object, a->u.object.len);
        break;
    case CORDON_MSG_SUMMARY:
        assert_int_equal(a->u.summary.count, b->u.summary.count);
        for (unsigned i = 0; i < a->u.summary.count; i++) {
            const struct cordon_summary_entry *x = &a->u.summary.entries[i];
            const struct cordon_summary_entry *y = &b->u.summary.entries[i];
            assert_memory_equal(x->key, y->key, sizeof(x->key));
            assert_true(x->seq == y->seq);
        }
        break;
    case CORDON_MSG_WANT:
        assert_int_equal(a->u.want.count, b->u.want.count);
        if (a->u.want.count > 0)
            assert_memory_equal(a->u.want.index, b->u.want.index, a->u.want.count);
        break;
    default:
        break;
    }
}

/* The object a decoded STORE or OBJECT borrows: where it must sit in the input. */
static void assert_view_in(const struct cordon_msg *d, const uint8_t *in, size_t len)
{
    const uint8_t *object = NULL;
    size_t n = 0;
    if (d->type == CORDON_MSG_STORE) {
        object = d->u.store.object;
        n = d->u.store.len;
        assert_ptr_equal(object, in + CORDON_MSG_HEADER_LEN + 4);
    } else if (d->type == CORDON_MSG_OBJECT && d->u.object.found) {
        object = d->u.object.object;
        n = d->u.object.len;
        assert_ptr_equal(object, in + CORDON_MSG_HEADER_LEN + 1 + 4);
    } else {
        return;
    }
    assert_ptr_equal(object + n, in + len); /* the object runs to the end of the message */
}

/* ---- encoding and decoding with checks ------------------------------------------------ */

static size_t encode(const struct cordon_msg *m, uint8_t *out)
{
    size_t len = 0;
    assert_int_equal(cordon_msg_encode(m, out, CORDON_MSG_MAX, &len), CORDON_OK);
    assert_int_equal(len, expected_len(m));
    return len;
}

/* Decodes and returns the error; on failure asserts the output struct was not touched. */
static cordon_err decode(const uint8_t *in, size_t len, struct cordon_msg *m)
{
    struct cordon_msg before;
    memset(m, POISON, sizeof(*m));
    memcpy(&before, m, sizeof(before));
    cordon_err err = cordon_msg_decode(in, len, m);
    if (err != CORDON_OK)
        assert_memory_equal(m, &before, sizeof(before));
    return err;
}

static void expect_decode(const uint8_t *in, size_t len, cordon_err want)
{
    struct cordon_msg m;
    assert_int_equal(decode(in, len, &m), want);
}

/* The sweep oracle: in either fails with a decoding error and leaves m alone, or decodes
 * to a message that encodes back to exactly in. Returns whether it decoded. */
static bool decodes_losslessly(const uint8_t *in, size_t len)
{
    struct cordon_msg m;
    cordon_err err = decode(in, len, &m);
    if (err != CORDON_OK) {
        assert_true(err == CORDON_ERR_TRUNCATED || err == CORDON_ERR_TRAILING ||
                    err == CORDON_ERR_TOO_LARGE || err == CORDON_ERR_MALFORMED);
        return false;
    }
    uint8_t again[CORDON_MSG_MAX];
    size_t n = 0;
    assert_int_equal(cordon_msg_encode(&m, again, sizeof(again), &n), CORDON_OK);
    assert_int_equal(n, len);
    assert_memory_equal(again, in, len);
    return true;
}

/* Raw bytes for inputs the encoder would refuse to write. */
struct bytes {
    uint8_t b[2 * CORDON_MSG_MAX];
    size_t n;
};

static void put8(struct bytes *b, uint8_t v)
{
    assert_true(b->n < sizeof(b->b));
    b->b[b->n++] = v;
}

static void put16(struct bytes *b, uint16_t v)
{
    put8(b, (uint8_t)(v >> 8));
    put8(b, (uint8_t)v);
}

static void put32(struct bytes *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b, (uint16_t)v);
}

static void put64(struct bytes *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

static void putn(struct bytes *b, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(b, ((const uint8_t *)p)[i]);
}

static void put_header(struct bytes *b, uint8_t type, uint8_t flags)
{
    b->n = 0;
    const uint8_t h[CORDON_MSG_HEADER_LEN] = {1, type, flags, 0, 0xde, 0xad, 0xbe, 0xef};
    putn(b, h, sizeof(h));
}

static void put_contact(struct bytes *b, unsigned seed, uint8_t family, size_t addr_len,
                        uint16_t port)
{
    uint8_t id[CORDON_NODE_ID_LEN], ip[16];
    fill(id, sizeof(id), seed);
    fill(ip, sizeof(ip), seed + 1000);
    putn(b, id, sizeof(id));
    put8(b, family);
    putn(b, ip, addr_len);
    put16(b, port);
}

/* ---- known answers -------------------------------------------------------------------- */

static void test_known_answer(void **state)
{
    (void)state;
    uint8_t out[CORDON_MSG_MAX];
    struct cordon_msg m, d;

    static const uint8_t ping[] = {1, 1, 0, 0, 0x12, 0x34, 0x56, 0x78};
    header(&m, CORDON_MSG_PING, 0x12345678u);
    assert_int_equal(encode(&m, out), sizeof(ping));
    assert_memory_equal(out, ping, sizeof(ping));
    assert_int_equal(decode(ping, sizeof(ping), &d), CORDON_OK);
    assert_msg_equal(&d, &m);

    /* NODES, one IPv4 contact 192.0.2.1:4433 with id 00 01 .. 1f. */
    uint8_t nodes1[CORDON_MSG_HEADER_LEN + 1 + CORDON_NODE_ID_LEN + 1 + 4 + 2] = {1, 4, 1, 0, 0,
                                                                                  0, 0, 9, 1};
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        nodes1[9 + i] = (uint8_t)i;
    memcpy(nodes1 + 9 + CORDON_NODE_ID_LEN, (const uint8_t[]){4, 192, 0, 2, 1, 0x11, 0x51}, 7);
    header(&m, CORDON_MSG_NODES, 9);
    m.u.nodes.count = 1;
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        m.u.nodes.contacts[0].id[i] = (uint8_t)i;
    m.u.nodes.contacts[0].addr.family = 4;
    memcpy(m.u.nodes.contacts[0].addr.ip, (const uint8_t[]){192, 0, 2, 1}, 4);
    m.u.nodes.contacts[0].addr.port = 4433;
    assert_int_equal(encode(&m, out), sizeof(nodes1));
    assert_memory_equal(out, nodes1, sizeof(nodes1));
    assert_int_equal(decode(nodes1, sizeof(nodes1), &d), CORDON_OK);
    assert_msg_equal(&d, &m);

    static const uint8_t err[] = {1, 5, 1, 0, 0xff, 0, 0, 1, 0, 2, 3, 'n', 'o', '!'};
    error_msg(&m, 0xff000001u, CORDON_MSGERR_UNSUPPORTED, "no!");
    assert_int_equal(encode(&m, out), sizeof(err));
    assert_memory_equal(out, err, sizeof(err));
    assert_int_equal(decode(err, sizeof(err), &d), CORDON_OK);
    assert_msg_equal(&d, &m);
}

/* ---- round trips ---------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    struct cordon_msg *v = valid_msgs();
    bool seen[256] = {false};
    for (size_t i = 0; i < N_VALID; i++) {
        uint8_t out[CORDON_MSG_MAX], again[CORDON_MSG_MAX];
        size_t len = encode(&v[i], out);
        struct cordon_msg d;
        assert_int_equal(decode(out, len, &d), CORDON_OK);
        assert_msg_equal(&d, &v[i]);
        assert_view_in(&d, out, len);
        assert_int_equal(encode(&d, again), len);
        assert_memory_equal(again, out, len);
        seen[v[i].type] = true;
    }
    for (int t = CORDON_MSG_PING; t <= CORDON_MSG_ERROR; t++)
        assert_true(seen[t]);
    for (int t = CORDON_MSG_STORE; t <= CORDON_MSG_WANT; t++)
        assert_true(seen[t]);
    free(v);
}

static void test_largest_message_fills_msg_max(void **state)
{
    (void)state;
    struct cordon_msg m;
    uint8_t out[CORDON_MSG_MAX];
    nodes(&m, 1, CORDON_NODES_MAX, 1);
    assert_int_equal(encode(&m, out), CORDON_MSG_MAX);
    assert_int_equal(CORDON_MSG_MAX, 1641); /* peer/ and sim/ keep buffers of it on stacks */

    /* The largest SUMMARY fits one WHOLE record, so maintenance never fragments. */
    summary_msg(&m, 2, CORDON_SUMMARY_MAX);
    size_t len = encode(&m, out);
    assert_int_equal(len, 1161);
    assert_true(len <= CORDON_RECORD_PAYLOAD);
    assert_int_equal(cordon_frag_count(len), 1);

    /* Every message without an object fits CORDON_MSG_MAX (valid_msgs' objects are small). */
    struct cordon_msg *v = valid_msgs();
    for (size_t i = 0; i < N_VALID; i++)
        assert_true(expected_len(&v[i]) <= CORDON_MSG_MAX);
    free(v);

    /* The struct stays small: objects are borrowed, not held. */
    assert_true(sizeof(struct cordon_msg) <= 2048);
}

/* STORE and OBJECT at CORDON_OBJECT_MAX: the largest messages, CORDON_MSG_STORAGE_MAX. */
static void test_largest_objects(void **state)
{
    (void)state;
    assert_int_equal(CORDON_MSG_STORAGE_MAX, 68123);
    assert_true(CORDON_MSG_STORAGE_MAX <= CORDON_FRAG_MSG_MAX);
    uint8_t *out = malloc(CORDON_MSG_STORAGE_MAX + 1);
    assert_non_null(out);
    struct cordon_msg m, d;
    for (int which = 0; which < 2; which++) {
        if (which == 0)
            store_msg(&m, 1, CORDON_OBJECT_MAX);
        else
            object_msg(&m, 2, CORDON_OBJECT_MAX);
        size_t len = 0;
        /* CORDON_MSG_MAX is too small for them: they must be told apart. */
        assert_int_equal(cordon_msg_encode(&m, out, CORDON_MSG_MAX, &len), CORDON_ERR_TOO_LARGE);
        assert_int_equal(cordon_msg_encode(&m, out, CORDON_MSG_STORAGE_MAX, &len), CORDON_OK);
        assert_int_equal(len, expected_len(&m));
        assert_int_equal(len, CORDON_MSG_STORAGE_MAX - (which == 0 ? 1 : 0));
        assert_int_equal(decode(out, len, &d), CORDON_OK);
        assert_msg_equal(&d, &m);
        assert_view_in(&d, out, len);

        /* One byte too few for the encoder: refused, nothing written past the cap. */
        memset(out, CANARY, CORDON_MSG_STORAGE_MAX + 1);
        size_t short_len = 12345;
        assert_int_equal(cordon_msg_encode(&m, out, len - 1, &short_len), CORDON_ERR_TOO_LARGE);
        assert_int_equal(short_len, 12345);
        assert_int_equal(out[len - 1], CANARY);
        assert_int_equal(out[len], CANARY);
        assert_int_equal(cordon_msg_encode(&m, out, len, &short_len), CORDON_OK);

        /* Truncations through the framing and at the end, each in a buffer of exactly that
         * size (every length is swept on the small objects of valid_msgs). */
        for (size_t n = 0; n < len; n = n < 32 ? n + 1 : n < len - 32 ? n + 4093 : n + 1) {
            uint8_t *p = malloc(n ? n : 1);
            assert_non_null(p);
            memcpy(p, out, n);
            expect_decode(p, n, CORDON_ERR_TRUNCATED);
            free(p);
        }
        /* One byte more than the length says, and a length one over the cap. */
        out[len] = 0;
        expect_decode(out, len + 1, CORDON_ERR_TRAILING);
        size_t at = CORDON_MSG_HEADER_LEN + (which == 0 ? 0 : 1);
        out[at + 3]++; /* CORDON_OBJECT_MAX + 1: low byte of the u32, no carry (0x..0e) */
        expect_decode(out, len + 1, CORDON_ERR_TOO_LARGE);
    }
    free(out);
}

static void test_decode_zeroes_unused_bytes(void **state)
{
    (void)state;
    struct cordon_msg m, d;
    uint8_t out[CORDON_MSG_MAX];
    nodes(&m, 1, 3, 2); /* v6, v4, v6 */
    size_t len = encode(&m, out);
    assert_int_equal(decode(out, len, &d), CORDON_OK); /* d was poisoned first */
    const uint8_t zero[CORDON_NODE_ID_LEN] = {0};
    assert_memory_equal(d.u.nodes.contacts[1].addr.ip + 4, zero, 12);
    for (size_t i = 3; i < CORDON_NODES_MAX; i++) {
        const struct cordon_contact *c = &d.u.nodes.contacts[i];
        assert_memory_equal(c->id, zero, sizeof(c->id));
        assert_int_equal(c->addr.family, 0);
        assert_memory_equal(c->addr.ip, zero, sizeof(c->addr.ip));
        assert_int_equal(c->addr.port, 0);
    }

    error_msg(&m, 2, 1, "abc");
    len = encode(&m, out);
    assert_int_equal(decode(out, len, &d), CORDON_OK);
    for (size_t i = 3; i < sizeof(d.u.error.text); i++)
        assert_int_equal(d.u.error.text[i], 0);

    header(&m, CORDON_MSG_PONG, 3);
    len = encode(&m, out);
    assert_int_equal(decode(out, len, &d), CORDON_OK);
    assert_int_equal(d.u.nodes.count, 0);
    assert_memory_equal(d.u.find_node.target, zero, sizeof(d.u.find_node.target));
    assert_int_equal(d.u.error.code, 0);
    assert_string_equal(d.u.error.text, "");
    assert_null(d.u.store.object);
    assert_int_equal(d.u.store.len, 0);

    /* OBJECT not found: no view. */
    object_msg(&m, 4, 0);
    len = encode(&m, out);
    assert_int_equal(decode(out, len, &d), CORDON_OK);
    assert_false(d.u.object.found);
    assert_null(d.u.object.object);
    assert_int_equal(d.u.object.len, 0);

    /* Entries and indexes past count. */
    summary_msg(&m, 5, 2);
    len = encode(&m, out);
    assert_int_equal(decode(out, len, &d), CORDON_OK);
    for (size_t i = 2; i < CORDON_SUMMARY_MAX; i++) {
        assert_memory_equal(d.u.summary.entries[i].key, zero, CORDON_NODE_ID_LEN);
        assert_memory_equal(d.u.summary.entries[i].key + CORDON_NODE_ID_LEN, zero,
                            CORDON_NODE_ID_LEN);
        assert_true(d.u.summary.entries[i].seq == 0);
    }
    want_msg(&m, 6, (const uint8_t[]){3, 5}, 2);
    len = encode(&m, out);
    assert_int_equal(decode(out, len, &d), CORDON_OK);
    for (size_t i = 2; i < CORDON_SUMMARY_MAX; i++)
        assert_int_equal(d.u.want.index[i], 0);
}

/* ---- sweeps over known-good bytes ----------------------------------------------------- */

static void test_truncation_sweep(void **state)
{
    (void)state;
    struct cordon_msg *v = valid_msgs();
    for (size_t i = 0; i < N_VALID; i++) {
        uint8_t out[CORDON_MSG_MAX];
        size_t len = encode(&v[i], out);
        for (size_t n = 0; n < len; n++) {
            /* A copy of exactly n bytes, so ASan sees any read past the prefix. */
            uint8_t *p = malloc(n ? n : 1);
            assert_non_null(p);
            memcpy(p, out, n);
            expect_decode(p, n, CORDON_ERR_TRUNCATED);
            free(p);
        }
    }
    expect_decode(NULL, 0, CORDON_ERR_TRUNCATED);
    free(v);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    struct cordon_msg *v = valid_msgs();
    for (size_t i = 0; i < N_VALID; i++) {
        uint8_t out[CORDON_MSG_MAX + 2];
        size_t len = encode(&v[i], out);
        const uint8_t extra[] = {0, 1, 4, 0xff};
        for (size_t e = 0; e < sizeof(extra); e++) {
            out[len] = extra[e];
            expect_decode(out, len + 1, CORDON_ERR_TRAILING);
        }
        out[len + 1] = 0;
        expect_decode(out, len + 2, CORDON_ERR_TRAILING);
    }
    free(v);
}

static void test_bit_flip_sweep(void **state)
{
    (void)state;
    struct cordon_msg *v = valid_msgs();
    size_t accepted = 0, refused = 0;
    for (size_t i = 0; i < N_VALID; i++) {
        uint8_t out[CORDON_MSG_MAX];
        size_t len = encode(&v[i], out);
        for (size_t pos = 0; pos < len; pos++) {
            for (unsigned bit = 0; bit < 8; bit++) {
                out[pos] ^= (uint8_t)(1u << bit);
                if (decodes_losslessly(out, len))
                    accepted++;
                else
                    refused++;
                out[pos] ^= (uint8_t)(1u << bit);
            }
        }
    }
    /* Both outcomes occur: ids, addresses and txids take any value, header bytes none. */
    assert_true(accepted > 0);
    assert_true(refused > 0);
    free(v);
}

/* Stronger than bit flips: every value at every position. */
static void test_byte_value_sweep(void **state)
{
    (void)state;
    struct cordon_msg *v = valid_msgs();
    for (size_t i = 0; i < N_VALID; i++) {
        uint8_t out[CORDON_MSG_MAX];
        size_t len = encode(&v[i], out);
        for (size_t pos = 0; pos < len; pos++) {
            uint8_t orig = out[pos];
            for (unsigned val = 0; val < 256; val++) {
                out[pos] = (uint8_t)val;
                (void)decodes_losslessly(out, len);
            }
            out[pos] = orig;
        }
    }
    free(v);
}

/* ---- strictness, rule by rule --------------------------------------------------------- */

static void test_version(void **state)
{
    (void)state;
    uint8_t b[] = {1, CORDON_MSG_PING, 0, 0, 0, 0, 0, 1};
    expect_decode(b, sizeof(b), CORDON_OK);
    const uint8_t bad[] = {0, 2, 0x81, 0xff};
    for (size_t i = 0; i < sizeof(bad); i++) {
        b[0] = bad[i];
        expect_decode(b, sizeof(b), CORDON_ERR_MALFORMED);
        expect_decode(b, 1, CORDON_ERR_MALFORMED); /* refused before the rest is wanted */
    }
}

static void test_unknown_type(void **state)
{
    (void)state;
    /* Everything but 1..5 and 16..21: 22..31 are reserved for storage but not yet known. */
    const uint8_t types[] = {0, 6, 7, 15, 22, 23, 31, 32, 0x80, 0x90, 0xff};
    for (size_t i = 0; i < sizeof(types); i++) {
        for (uint8_t flags = 0; flags <= 1; flags++) {
            uint8_t b[] = {1, types[i], flags, 0, 0, 0, 0, 1};
            expect_decode(b, sizeof(b), CORDON_ERR_MALFORMED);
            expect_decode(b, 2, CORDON_ERR_MALFORMED); /* refused before the rest is wanted */
        }
    }
}

static void test_flags(void **state)
{
    (void)state;
    struct {
        uint8_t type, flags;
    } bad[] = {
        {CORDON_MSG_PING, 1},      {CORDON_MSG_PING, 2},    {CORDON_MSG_PING, 0x80},
        {CORDON_MSG_FIND_NODE, 1}, {CORDON_MSG_PONG, 0},    {CORDON_MSG_PONG, 3},
        {CORDON_MSG_PONG, 0x81},   {CORDON_MSG_PONG, 0xff}, {CORDON_MSG_NODES, 0},
        {CORDON_MSG_NODES, 0x41},  {CORDON_MSG_ERROR, 0},   {CORDON_MSG_ERROR, 0x11},
        {CORDON_MSG_STORE, 1},     {CORDON_MSG_STORE, 2},   {CORDON_MSG_STORE, 0x80},
        {CORDON_MSG_STORED, 0},    {CORDON_MSG_STORED, 3},  {CORDON_MSG_FETCH, 1},
        {CORDON_MSG_FETCH, 0xff},  {CORDON_MSG_OBJECT, 0},  {CORDON_MSG_OBJECT, 0x81},
        {CORDON_MSG_SUMMARY, 1},   {CORDON_MSG_SUMMARY, 4}, {CORDON_MSG_WANT, 0},
        {CORDON_MSG_WANT, 0x21},
    };
    struct cordon_msg *v = valid_msgs();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (size_t j = 0; j < N_VALID; j++) {
            if (v[j].type != bad[i].type)
                continue;
            uint8_t out[CORDON_MSG_MAX];
            size_t len = encode(&v[j], out);
            out[2] = bad[i].flags;
            expect_decode(out, len, CORDON_ERR_MALFORMED);
        }
    }
    free(v);
}

static void test_reserved_byte(void **state)
{
    (void)state;
    struct cordon_msg *v = valid_msgs();
    for (size_t j = 0; j < N_VALID; j++) {
        uint8_t out[CORDON_MSG_MAX];
        size_t len = encode(&v[j], out);
        const uint8_t bad[] = {1, 0x80, 0xff};
        for (size_t i = 0; i < sizeof(bad); i++) {
            out[3] = bad[i];
            expect_decode(out, len, CORDON_ERR_MALFORMED);
        }
    }
    free(v);
}

static void test_find_node_length(void **state)
{
    (void)state;
    struct bytes b;
    put_header(&b, CORDON_MSG_FIND_NODE, 0);
    uint8_t target[CORDON_NODE_ID_LEN + 1] = {0};
    putn(&b, target, CORDON_NODE_ID_LEN - 1);
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
    put8(&b, 0);
    expect_decode(b.b, b.n, CORDON_OK);
    put8(&b, 0);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
}

static void test_nodes_count(void **state)
{
    (void)state;
    struct bytes b;

    /* Over the cap, with or without the bytes to back it. */
    const unsigned over[] = {CORDON_NODES_MAX + 1, 0x80, 0xff};
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        put_header(&b, CORDON_MSG_NODES, 1);
        put8(&b, (uint8_t)over[i]);
        expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
        for (unsigned c = 0; c < CORDON_NODES_MAX + 1; c++)
            put_contact(&b, c, 6, 16, 1);
        expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
    }

    /* At the cap: exactly CORDON_NODES_MAX contacts decode, one fewer is truncated. */
    put_header(&b, CORDON_MSG_NODES, 1);
    put8(&b, CORDON_NODES_MAX);
    for (unsigned c = 0; c < CORDON_NODES_MAX - 1; c++)
        put_contact(&b, c, 4, 4, 1);
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
    put_contact(&b, 99, 4, 4, 1);
    expect_decode(b.b, b.n, CORDON_OK);

    /* count disagrees with the contacts that follow. */
    put_header(&b, CORDON_MSG_NODES, 1);
    put8(&b, 2);
    put_contact(&b, 1, 6, 16, 7);
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
    put_header(&b, CORDON_MSG_NODES, 1);
    put8(&b, 1);
    put_contact(&b, 1, 4, 4, 7);
    put_contact(&b, 2, 4, 4, 7);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
    put_header(&b, CORDON_MSG_NODES, 1);
    put8(&b, 0);
    put_contact(&b, 1, 4, 4, 7);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
}

static void test_nodes_family(void **state)
{
    (void)state;
    struct bytes b;
    const uint8_t bad[] = {0, 1, 2, 3, 5, 7, 16, 46, 0xff};
    for (size_t i = 0; i < sizeof(bad); i++) {
        const size_t lens[] = {4, 16};
        for (size_t l = 0; l < 2; l++) {
            put_header(&b, CORDON_MSG_NODES, 1);
            put8(&b, 1);
            put_contact(&b, 1, bad[i], lens[l], 80);
            expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
            /* ... also as the last of several. */
            put_header(&b, CORDON_MSG_NODES, 1);
            put8(&b, 3);
            put_contact(&b, 1, 4, 4, 80);
            put_contact(&b, 2, 6, 16, 80);
            put_contact(&b, 3, bad[i], lens[l], 80);
            expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
        }
    }

    /* The family decides the address length: a mismatch never decodes. */
    put_header(&b, CORDON_MSG_NODES, 1);
    put8(&b, 1);
    put_contact(&b, 1, 4, 16, 80);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
    put_header(&b, CORDON_MSG_NODES, 1);
    put8(&b, 1);
    put_contact(&b, 1, 6, 4, 80);
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
}

static void test_nodes_port_zero(void **state)
{
    (void)state;
    struct bytes b;
    const uint8_t families[] = {4, 6};
    for (size_t f = 0; f < 2; f++) {
        size_t alen = families[f] == 4 ? 4 : 16;
        put_header(&b, CORDON_MSG_NODES, 1);
        put8(&b, 1);
        put_contact(&b, 1, families[f], alen, 0);
        expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
        put_header(&b, CORDON_MSG_NODES, 1);
        put8(&b, 2);
        put_contact(&b, 1, families[f], alen, 1);
        put_contact(&b, 2, families[f], alen, 0);
        expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
    }
}

static void put_error(struct bytes *b, uint8_t declared, const void *text, size_t n)
{
    put_header(b, CORDON_MSG_ERROR, 1);
    put16(b, CORDON_MSGERR_INTERNAL);
    put8(b, declared);
    putn(b, text, n);
}

static void test_error_text(void **state)
{
    (void)state;
    struct bytes b;
    struct cordon_msg m;

    /* Any byte outside 0x20..0x7e, at the start, in the middle, at the end. */
    const uint8_t bad[] = {0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1b, 0x1f, 0x7f, 0x80, 0xc3, 0xff};
    for (size_t i = 0; i < sizeof(bad); i++) {
        for (size_t at = 0; at < 5; at += 2) {
            uint8_t text[5] = {'h', 'e', 'l', 'l', 'o'};
            text[at] = bad[i];
            put_error(&b, sizeof(text), text, sizeof(text));
            expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
        }
    }

    /* Over the cap, backed or not; declared longer than what is there. */
    char text[CORDON_ERROR_TEXT_MAX + 10];
    memset(text, 'x', sizeof(text));
    put_error(&b, CORDON_ERROR_TEXT_MAX + 1, text, CORDON_ERROR_TEXT_MAX + 1);
    expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
    put_error(&b, 0xff, text, 0);
    expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
    put_error(&b, 10, text, 5);
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
    put_error(&b, 5, text, 10);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);

    /* At the cap: decodes, NUL-terminated. */
    put_error(&b, CORDON_ERROR_TEXT_MAX, text, CORDON_ERROR_TEXT_MAX);
    assert_int_equal(decode(b.b, b.n, &m), CORDON_OK);
    assert_int_equal(strlen(m.u.error.text), CORDON_ERROR_TEXT_MAX);
    assert_int_equal(m.u.error.code, CORDON_MSGERR_INTERNAL);

    /* Unknown codes pass (a newer peer may know more). */
    put_header(&b, CORDON_MSG_ERROR, 1);
    put16(&b, 0);
    put8(&b, 0);
    assert_int_equal(decode(b.b, b.n, &m), CORDON_OK);
    assert_int_equal(m.u.error.code, 0);
    assert_string_equal(m.u.error.text, "");
}

static void test_decode_args(void **state)
{
    (void)state;
    const uint8_t ping[] = {1, 1, 0, 0, 0, 0, 0, 0};
    assert_int_equal(cordon_msg_decode(ping, sizeof(ping), NULL), CORDON_ERR_INVAL);
    expect_decode(NULL, 8, CORDON_ERR_TRUNCATED);
}

/* ---- the storage messages, rule by rule ------------------------------------------------ */

static void test_storage_known_answer(void **state)
{
    (void)state;
    uint8_t out[CORDON_MSG_MAX];
    struct cordon_msg m, d;

    /* STORE of the 3-byte "object" 'abc'. */
    static const uint8_t store[] = {1, 16, 0, 0, 0, 0, 0, 0x2a, 0, 0, 0, 3, 'a', 'b', 'c'};
    header(&m, CORDON_MSG_STORE, 42);
    m.u.store.object = (const uint8_t *)"abc";
    m.u.store.len = 3;
    assert_int_equal(encode(&m, out), sizeof(store));
    assert_memory_equal(out, store, sizeof(store));
    assert_int_equal(decode(store, sizeof(store), &d), CORDON_OK);
    assert_msg_equal(&d, &m);
    assert_ptr_equal(d.u.store.object, store + 12);

    /* STORED: refused as stale, the replica holds seq 0x0102030405060708. */
    static const uint8_t stored[] = {1, 17, 1, 0, 0, 0, 0, 0x2a, 0, 18, 1, 2, 3, 4, 5, 6, 7, 8};
    stored_msg(&m, 42, CORDON_STORED_STALE, 0x0102030405060708u);
    assert_int_equal(encode(&m, out), sizeof(stored));
    assert_memory_equal(out, stored, sizeof(stored));
    assert_int_equal(decode(stored, sizeof(stored), &d), CORDON_OK);
    assert_msg_equal(&d, &m);

    /* FETCH of the entry key 00 01 .. 3f. */
    uint8_t fetch[CORDON_MSG_HEADER_LEN + CORDON_OBJECT_ENTRY_KEY_LEN] = {1, 18, 0, 0, 0, 0, 0, 7};
    header(&m, CORDON_MSG_FETCH, 7);
    for (size_t i = 0; i < CORDON_OBJECT_ENTRY_KEY_LEN; i++)
        fetch[CORDON_MSG_HEADER_LEN + i] = m.u.fetch.key[i] = (uint8_t)i;
    assert_int_equal(encode(&m, out), sizeof(fetch));
    assert_memory_equal(out, fetch, sizeof(fetch));
    assert_int_equal(decode(fetch, sizeof(fetch), &d), CORDON_OK);
    assert_msg_equal(&d, &m);

    /* OBJECT not found, then found with 'xy'. */
    static const uint8_t none[] = {1, 19, 1, 0, 0, 0, 0, 7, 0};
    object_msg(&m, 7, 0);
    assert_int_equal(encode(&m, out), sizeof(none));
    assert_memory_equal(out, none, sizeof(none));
    assert_int_equal(decode(none, sizeof(none), &d), CORDON_OK);
    assert_msg_equal(&d, &m);
    static const uint8_t found[] = {1, 19, 1, 0, 0, 0, 0, 7, 1, 0, 0, 0, 2, 'x', 'y'};
    m.u.object.found = true;
    m.u.object.object = (const uint8_t *)"xy";
    m.u.object.len = 2;
    assert_int_equal(encode(&m, out), sizeof(found));
    assert_memory_equal(out, found, sizeof(found));
    assert_int_equal(decode(found, sizeof(found), &d), CORDON_OK);
    assert_msg_equal(&d, &m);
    assert_ptr_equal(d.u.object.object, found + 13);

    /* SUMMARY of one entry: key 64 x 0x11, seq 5. */
    uint8_t summary[CORDON_MSG_HEADER_LEN + 1 + CORDON_SUMMARY_ENTRY_LEN] = {1, 20, 0, 0, 0,
                                                                             0, 1,  0, 1};
    memset(summary + 9, 0x11, CORDON_OBJECT_ENTRY_KEY_LEN);
    summary[sizeof(summary) - 1] = 5;
    header(&m, CORDON_MSG_SUMMARY, 256);
    m.u.summary.count = 1;
    memset(m.u.summary.entries[0].key, 0x11, CORDON_OBJECT_ENTRY_KEY_LEN);
    m.u.summary.entries[0].seq = 5;
    assert_int_equal(encode(&m, out), sizeof(summary));
    assert_memory_equal(out, summary, sizeof(summary));
    assert_int_equal(decode(summary, sizeof(summary), &d), CORDON_OK);
    assert_msg_equal(&d, &m);

    /* WANT entries 0, 3 and 15. */
    static const uint8_t want[] = {1, 21, 1, 0, 0, 0, 1, 0, 3, 0, 3, 15};
    want_msg(&m, 256, (const uint8_t[]){0, 3, 15}, 3);
    assert_int_equal(encode(&m, out), sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(decode(want, sizeof(want), &d), CORDON_OK);
    assert_msg_equal(&d, &m);
}

/* STORE's u32 length | object, at offset 8. */
static void put_store(struct bytes *b, uint32_t declared, size_t n)
{
    put_header(b, CORDON_MSG_STORE, 0);
    put32(b, declared);
    putn(b, object_of(n), n);
}

/* OBJECT's u8 found | u32 length | object, at offset 8. */
static void put_found(struct bytes *b, uint8_t found, uint32_t declared, size_t n)
{
    put_header(b, CORDON_MSG_OBJECT, 1);
    put8(b, found);
    put32(b, declared);
    putn(b, object_of(n), n);
}

/* which 0: STORE, 1: OBJECT found. */
static void put_framed(struct bytes *b, int which, uint32_t declared, size_t n)
{
    if (which == 0)
        put_store(b, declared, n);
    else
        put_found(b, 1, declared, n);
}

static void test_object_length(void **state)
{
    (void)state;
    struct bytes b;
    for (int which = 0; which < 2; which++) {
#define PUT(declared, n) put_framed(&b, which, declared, n)
        /* No object is empty. */
        PUT(0, 0);
        expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
        PUT(0, 1);
        expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
        /* Declared longer or shorter than what follows. */
        PUT(10, 9);
        expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
        PUT(10, 0);
        expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
        PUT(10, 11);
        expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
        PUT(1, 1);
        expect_decode(b.b, b.n, CORDON_OK);
        /* Over the cap without the bytes behind it: too large, not truncated. */
        const uint32_t over[] = {CORDON_OBJECT_MAX + 1, 0x00100000u, 0x80000000u, 0xffffffffu};
        for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
            PUT(over[i], 0);
            expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
            PUT(over[i], 100);
            expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
        }
        /* The length field itself cut short. */
        PUT(1, 1);
        size_t at = CORDON_MSG_HEADER_LEN + (size_t)which;
        for (size_t n = at; n < at + 4; n++)
            expect_decode(b.b, n, CORDON_ERR_TRUNCATED);
#undef PUT
    }

    /* Over the cap with every byte behind it, and exactly at the cap. */
    size_t big = CORDON_MSG_HEADER_LEN + 1 + 4 + CORDON_OBJECT_MAX + 1;
    uint8_t *p = malloc(big);
    assert_non_null(p);
    for (int which = 0; which < 2; which++) {
        size_t at = CORDON_MSG_HEADER_LEN + (size_t)which;
        const uint8_t h[CORDON_MSG_HEADER_LEN] = {
            1, which == 0 ? CORDON_MSG_STORE : CORDON_MSG_OBJECT, (uint8_t)which, 0, 0, 0, 0, 1};
        memcpy(p, h, sizeof(h));
        p[CORDON_MSG_HEADER_LEN] = 1; /* found, overwritten by the length for STORE */
        size_t n = CORDON_OBJECT_MAX + 1;
        p[at] = (uint8_t)(n >> 24);
        p[at + 1] = (uint8_t)(n >> 16);
        p[at + 2] = (uint8_t)(n >> 8);
        p[at + 3] = (uint8_t)n;
        memcpy(p + at + 4, object_of(n), n);
        expect_decode(p, at + 4 + n, CORDON_ERR_TOO_LARGE);
        n = CORDON_OBJECT_MAX;
        p[at + 3] = (uint8_t)n;
        struct cordon_msg d;
        assert_int_equal(decode(p, at + 4 + n, &d), CORDON_OK);
        assert_view_in(&d, p, at + 4 + n);
        expect_decode(p, at + 4 + n + 1, CORDON_ERR_TRAILING);
    }
    free(p);
}

static void test_object_found(void **state)
{
    (void)state;
    struct bytes b;
    /* found is 0 or 1, nothing else, whatever follows. */
    const uint8_t bad[] = {2, 3, 0x10, 0x80, 0xfe, 0xff};
    for (size_t i = 0; i < sizeof(bad); i++) {
        put_found(&b, bad[i], 3, 3);
        expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
        put_header(&b, CORDON_MSG_OBJECT, 1);
        put8(&b, bad[i]);
        expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
    }
    /* Not found: the message ends there. */
    put_header(&b, CORDON_MSG_OBJECT, 1);
    put8(&b, 0);
    struct cordon_msg m;
    assert_int_equal(decode(b.b, b.n, &m), CORDON_OK);
    assert_false(m.u.object.found);
    put_found(&b, 0, 3, 3);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
    put8(&b, 0);
    expect_decode(b.b, CORDON_MSG_HEADER_LEN + 2, CORDON_ERR_TRAILING);
    /* Found without a length. */
    put_header(&b, CORDON_MSG_OBJECT, 1);
    put8(&b, 1);
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
    expect_decode(b.b, CORDON_MSG_HEADER_LEN, CORDON_ERR_TRUNCATED);
}

static void test_stored_body(void **state)
{
    (void)state;
    struct bytes b;
    struct cordon_msg m;
    /* Every code decodes, known or not: the answer is still an answer. */
    const uint16_t codes[] = {0, 1, 18, 20, 21, 22, 0x100, 0x7fff, 0xffff};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        put_header(&b, CORDON_MSG_STORED, 1);
        put16(&b, codes[i]);
        put64(&b, 0xfedcba9876543210u);
        assert_int_equal(decode(b.b, b.n, &m), CORDON_OK);
        assert_int_equal(m.u.stored.code, codes[i]);
        assert_true(m.u.stored.seq == 0xfedcba9876543210u);
        put8(&b, 0);
        expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
        for (size_t n = CORDON_MSG_HEADER_LEN; n < b.n - 1; n++)
            expect_decode(b.b, n, CORDON_ERR_TRUNCATED);
    }
}

/* The wire's values, written out: they are the protocol and must never move. */
static const struct {
    cordon_err err;
    uint16_t code;
} wire_codes[] = {
    {CORDON_OK, 0},
    {CORDON_ERR_MALFORMED, 2},
    {CORDON_ERR_TRUNCATED, 3},
    {CORDON_ERR_TRAILING, 4},
    {CORDON_ERR_TOO_LARGE, 5},
    {CORDON_ERR_OBJ_LIFETIME, 6},
    {CORDON_ERR_OBJ_FUTURE, 7},
    {CORDON_ERR_OBJ_EXPIRED, 8},
    {CORDON_ERR_OBJ_NOT_ALLOWED, 9},
    {CORDON_ERR_CERT_UNTRUSTED, 10},
    {CORDON_ERR_CERT_EXPIRED, 11},
    {CORDON_ERR_CERT_NOT_YET_VALID, 12},
    {CORDON_ERR_CERT_REVOKED, 13},
    {CORDON_ERR_CERT_NODE_ID, 14},
    {CORDON_ERR_KEY_TYPE, 15},
    {CORDON_ERR_BAD_SIGNATURE, 16},
    {CORDON_ERR_CRL, 17},
    {CORDON_ERR_OBJ_STALE, 18},
    {CORDON_ERR_OBJ_QUOTA, 19},
    {CORDON_ERR_OBJ_CAPACITY, 20},
};

static void test_stored_codes(void **state)
{
    (void)state;
    size_t n = sizeof(wire_codes) / sizeof(wire_codes[0]);
    bool refusal[CORDON_ERR__COUNT] = {false};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cordon_msg_store_code(wire_codes[i].err), wire_codes[i].code);
        assert_int_equal(cordon_msg_store_err(wire_codes[i].code), wire_codes[i].err);
        refusal[wire_codes[i].err] = true;
    }
    assert_int_equal(CORDON_STORED_INTERNAL, 1);
    assert_int_equal(CORDON_STORED_ACCEPTED, 0);
    assert_int_equal(CORDON_STORED_STALE, 18);
    assert_int_equal(CORDON_STORED_CAPACITY, 20);

    /* Every other error is the replica's failure, never the object's. */
    for (int e = 0; e < CORDON_ERR__COUNT; e++) {
        if (refusal[e])
            continue;
        assert_int_equal(cordon_msg_store_code((cordon_err)e), CORDON_STORED_INTERNAL);
    }
    assert_int_equal(cordon_msg_store_code(CORDON_ERR__COUNT), CORDON_STORED_INTERNAL);
    assert_int_equal(cordon_msg_store_code((cordon_err)-1), CORDON_STORED_INTERNAL);

    /* Every code: a refusal's own error, or CORDON_ERR_REFUSED for internal and unknown. */
    for (uint32_t code = 0; code <= UINT16_MAX; code++) {
        cordon_err err = cordon_msg_store_err((uint16_t)code);
        bool known = false;
        for (size_t i = 0; i < n; i++)
            known = known || wire_codes[i].code == code;
        if (known)
            assert_int_equal(cordon_msg_store_code(err), code);
        else
            assert_int_equal(err, CORDON_ERR_REFUSED);
    }
}

/* SUMMARY bytes: count as declared, then n entries whose keys start with key0[i]. */
static void put_summary(struct bytes *b, uint8_t count, const uint8_t *key0, size_t n)
{
    put_header(b, CORDON_MSG_SUMMARY, 0);
    put8(b, count);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
        fill(key, sizeof(key), (unsigned)i);
        key[0] = key0 != NULL ? key0[i] : (uint8_t)i;
        putn(b, key, sizeof(key));
        put64(b, i);
    }
}

static void test_summary_count(void **state)
{
    (void)state;
    struct bytes b;
    /* Empty: nothing to maintain, so not a request. */
    put_summary(&b, 0, NULL, 0);
    expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
    put_summary(&b, 0, NULL, 1);
    expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
    /* Over the cap, with or without the entries. */
    const unsigned over[] = {CORDON_SUMMARY_MAX + 1, 0x80, 0xff};
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        put_summary(&b, (uint8_t)over[i], NULL, 0);
        expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
        put_summary(&b, (uint8_t)over[i], NULL, CORDON_SUMMARY_MAX + 1);
        expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
    }
    /* At the cap: one entry fewer is truncated, one more trailing. */
    put_summary(&b, CORDON_SUMMARY_MAX, NULL, CORDON_SUMMARY_MAX - 1);
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
    put_summary(&b, CORDON_SUMMARY_MAX, NULL, CORDON_SUMMARY_MAX);
    expect_decode(b.b, b.n, CORDON_OK);
    put_summary(&b, CORDON_SUMMARY_MAX - 1, NULL, CORDON_SUMMARY_MAX);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
    /* An entry cut inside its key or its seq. */
    put_summary(&b, 2, NULL, 2);
    expect_decode(b.b, b.n - 8, CORDON_ERR_TRUNCATED);
    expect_decode(b.b, b.n - 9, CORDON_ERR_TRUNCATED);
    expect_decode(b.b, b.n - 1, CORDON_ERR_TRUNCATED);
}

static void test_summary_order(void **state)
{
    (void)state;
    struct bytes b;
    const struct {
        uint8_t key0[4];
        size_t n;
        cordon_err want;
    } cases[] = {
        {{0, 1, 2, 3}, 4, CORDON_OK},
        {{0, 0xff}, 2, CORDON_OK},
        {{1, 0}, 2, CORDON_ERR_MALFORMED},
        {{0, 1, 2, 1}, 4, CORDON_ERR_MALFORMED},
        {{0, 2, 1, 3}, 4, CORDON_ERR_MALFORMED},
        {{0xff, 0}, 2, CORDON_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put_summary(&b, (uint8_t)cases[i].n, cases[i].key0, cases[i].n);
        expect_decode(b.b, b.n, cases[i].want);
    }

    /* Equal keys, and keys that differ only in their last byte, both ways. */
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    memset(key, 0x42, sizeof(key));
    for (int last = 0; last < 3; last++) {
        put_header(&b, CORDON_MSG_SUMMARY, 0);
        put8(&b, 2);
        putn(&b, key, sizeof(key));
        put64(&b, 1);
        key[sizeof(key) - 1] = (uint8_t)(0x42 + last - 1); /* 0x41, 0x42, 0x43 */
        putn(&b, key, sizeof(key));
        put64(&b, 2);
        key[sizeof(key) - 1] = 0x42;
        expect_decode(b.b, b.n, last == 2 ? CORDON_OK : CORDON_ERR_MALFORMED);
    }

    /* Out of order only at the last of CORDON_SUMMARY_MAX. */
    uint8_t key0[CORDON_SUMMARY_MAX];
    for (size_t i = 0; i < CORDON_SUMMARY_MAX; i++)
        key0[i] = (uint8_t)(10 + i);
    put_summary(&b, CORDON_SUMMARY_MAX, key0, CORDON_SUMMARY_MAX);
    expect_decode(b.b, b.n, CORDON_OK);
    key0[CORDON_SUMMARY_MAX - 1] = 9;
    put_summary(&b, CORDON_SUMMARY_MAX, key0, CORDON_SUMMARY_MAX);
    expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
}

static void put_want(struct bytes *b, uint8_t count, const uint8_t *index, size_t n)
{
    put_header(b, CORDON_MSG_WANT, 1);
    put8(b, count);
    putn(b, index, n);
}

static void test_want(void **state)
{
    (void)state;
    struct bytes b;
    const uint8_t none[1] = {0};
    put_want(&b, 0, none, 0);
    expect_decode(b.b, b.n, CORDON_OK);
    put_want(&b, CORDON_SUMMARY_MAX, want_all, CORDON_SUMMARY_MAX);
    expect_decode(b.b, b.n, CORDON_OK);
    /* Over the cap, with or without the indexes. */
    const unsigned over[] = {CORDON_SUMMARY_MAX + 1, 0x80, 0xff};
    uint8_t many[256];
    for (size_t i = 0; i < sizeof(many); i++)
        many[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        put_want(&b, (uint8_t)over[i], many, 0);
        expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
        put_want(&b, (uint8_t)over[i], many, over[i]);
        expect_decode(b.b, b.n, CORDON_ERR_TOO_LARGE);
    }
    /* count against what follows. */
    put_want(&b, 3, many, 2);
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
    put_want(&b, 2, many, 3);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
    put_want(&b, 0, many, 1);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
    /* Indexes: below the cap, strictly increasing. */
    const struct {
        uint8_t index[4];
        size_t n;
    } bad[] = {
        {{CORDON_SUMMARY_MAX}, 1},
        {{0xff}, 1},
        {{0, CORDON_SUMMARY_MAX}, 2},
        {{3, 3}, 2},
        {{4, 3}, 2},
        {{0, 0}, 2},
        {{1, 2, 2}, 3},
        {{1, 5, 3, 7}, 4},
        {{15, 0}, 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put_want(&b, (uint8_t)bad[i].n, bad[i].index, bad[i].n);
        expect_decode(b.b, b.n, CORDON_ERR_MALFORMED);
    }
}

static void test_fetch_length(void **state)
{
    (void)state;
    struct bytes b;
    put_header(&b, CORDON_MSG_FETCH, 0);
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN] = {0};
    putn(&b, key, CORDON_NODE_ID_LEN); /* a resource ID alone is not an entry key */
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
    putn(&b, key, CORDON_NODE_ID_LEN - 1);
    expect_decode(b.b, b.n, CORDON_ERR_TRUNCATED);
    put8(&b, 0);
    expect_decode(b.b, b.n, CORDON_OK);
    put8(&b, 0);
    expect_decode(b.b, b.n, CORDON_ERR_TRAILING);
}

/* ---- the encoder ---------------------------------------------------------------------- */

/* Encoding m must fail with want, leaving out and *len untouched. */
static void expect_encode_fails(const struct cordon_msg *m, cordon_err want)
{
    uint8_t out[CORDON_MSG_MAX];
    memset(out, CANARY, sizeof(out));
    size_t len = 12345;
    assert_int_equal(cordon_msg_encode(m, out, sizeof(out), &len), want);
    assert_int_equal(len, 12345);
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal(out[i], CANARY);
}

static void test_encode_refuses_invalid(void **state)
{
    (void)state;
    struct cordon_msg m;
    uint8_t out[CORDON_MSG_MAX];
    size_t len;

    assert_int_equal(cordon_msg_encode(NULL, out, sizeof(out), &len), CORDON_ERR_INVAL);
    header(&m, CORDON_MSG_PING, 1);
    assert_int_equal(cordon_msg_encode(&m, out, sizeof(out), NULL), CORDON_ERR_INVAL);

    const uint8_t types[] = {0, 6, 15, 22, 31, 0xff};
    for (size_t i = 0; i < sizeof(types); i++) {
        header(&m, CORDON_MSG_PING, 1);
        for (m.flags = 0; m.flags <= 1; m.flags++) {
            m.type = types[i];
            expect_encode_fails(&m, CORDON_ERR_INVAL);
        }
    }

    /* Flags: exactly the type's. */
    struct cordon_msg *v = valid_msgs();
    for (size_t j = 0; j < N_VALID; j++) {
        m = v[j];
        m.flags ^= CORDON_MSG_FLAG_RESPONSE;
        expect_encode_fails(&m, CORDON_ERR_INVAL);
        m = v[j];
        m.flags |= 0x02;
        expect_encode_fails(&m, CORDON_ERR_INVAL);
        m = v[j];
        m.flags |= 0x80;
        expect_encode_fails(&m, CORDON_ERR_INVAL);
    }
    free(v);

    nodes(&m, 1, CORDON_NODES_MAX, 2);
    m.u.nodes.count = CORDON_NODES_MAX + 1;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    m.u.nodes.count = 0xff;
    expect_encode_fails(&m, CORDON_ERR_INVAL);

    const uint8_t families[] = {0, 5, 46, 0xff};
    for (size_t i = 0; i < sizeof(families); i++) {
        nodes(&m, 1, 3, 2);
        m.u.nodes.contacts[2].addr.family = families[i];
        expect_encode_fails(&m, CORDON_ERR_INVAL);
    }

    nodes(&m, 1, 3, 2);
    m.u.nodes.contacts[2].addr.port = 0;
    expect_encode_fails(&m, CORDON_ERR_INVAL);

    /* An IPv4 address with bytes the decoder would hand back as zero. */
    for (size_t i = 4; i < 16; i++) {
        nodes(&m, 1, 2, 0);
        m.u.nodes.contacts[1].addr.ip[i] = 1;
        expect_encode_fails(&m, CORDON_ERR_INVAL);
    }
    /* ... but a bad contact past count is not part of the message. */
    nodes(&m, 1, 2, 0);
    m.u.nodes.contacts[2].addr.family = 5;
    assert_int_equal(cordon_msg_encode(&m, out, sizeof(out), &len), CORDON_OK);

    const char bad_chars[] = {'\t', '\n', '\r', 0x1b, 0x7f, (char)0x80, (char)0xff};
    for (size_t i = 0; i < sizeof(bad_chars); i++) {
        error_msg(&m, 1, 1, "hello");
        m.u.error.text[2] = bad_chars[i];
        expect_encode_fails(&m, CORDON_ERR_INVAL);
    }
    /* Not NUL-terminated inside the array. */
    error_msg(&m, 1, 1, "");
    memset(m.u.error.text, 'a', sizeof(m.u.error.text));
    expect_encode_fails(&m, CORDON_ERR_INVAL);
}

static void test_encode_cap(void **state)
{
    (void)state;
    struct cordon_msg *v = valid_msgs();
    enum { SLACK = 16 };
    for (size_t j = 0; j < N_VALID; j++) {
        uint8_t ref[CORDON_MSG_MAX];
        size_t want = encode(&v[j], ref);
        uint8_t out[CORDON_MSG_MAX + SLACK];
        for (size_t cap = 0; cap < want; cap++) {
            memset(out, CANARY, sizeof(out));
            size_t len = 12345;
            assert_int_equal(cordon_msg_encode(&v[j], out, cap, &len), CORDON_ERR_TOO_LARGE);
            assert_int_equal(len, 12345);
            for (size_t i = cap; i < sizeof(out); i++)
                assert_int_equal(out[i], CANARY);
        }
        memset(out, CANARY, sizeof(out));
        size_t len = 0;
        assert_int_equal(cordon_msg_encode(&v[j], out, want, &len), CORDON_OK);
        assert_int_equal(len, want);
        assert_memory_equal(out, ref, want);
        for (size_t i = want; i < sizeof(out); i++)
            assert_int_equal(out[i], CANARY);
    }
    size_t len = 12345;
    assert_int_equal(cordon_msg_encode(&v[0], NULL, 0, &len), CORDON_ERR_TOO_LARGE);
    assert_int_equal(len, 12345);
    free(v);
}

static void test_encode_refuses_invalid_storage(void **state)
{
    (void)state;
    struct cordon_msg m;
    uint8_t out[CORDON_MSG_MAX];
    size_t len;

    /* STORE: an object that is not there, empty, or over the cap. */
    store_msg(&m, 1, 10);
    m.u.store.object = NULL;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    store_msg(&m, 1, 10);
    m.u.store.len = 0;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    store_msg(&m, 1, CORDON_OBJECT_MAX + 1);
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    m.u.store.len = SIZE_MAX;
    expect_encode_fails(&m, CORDON_ERR_INVAL);

    /* OBJECT: found needs an object; not found must not carry one. */
    object_msg(&m, 1, 10);
    m.u.object.object = NULL;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    object_msg(&m, 1, 10);
    m.u.object.len = 0;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    object_msg(&m, 1, CORDON_OBJECT_MAX + 1);
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    object_msg(&m, 1, 10);
    m.u.object.found = false;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    m.u.object.object = NULL;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    m.u.object.len = 0;
    assert_int_equal(cordon_msg_encode(&m, out, sizeof(out), &len), CORDON_OK);
    object_msg(&m, 1, 0);
    m.u.object.object = object_of(1);
    expect_encode_fails(&m, CORDON_ERR_INVAL);

    /* SUMMARY: count 1..CORDON_SUMMARY_MAX, keys strictly increasing. */
    const unsigned counts[] = {0, CORDON_SUMMARY_MAX + 1, 0xff};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        summary_msg(&m, 1, CORDON_SUMMARY_MAX);
        m.u.summary.count = (uint8_t)counts[i];
        expect_encode_fails(&m, CORDON_ERR_INVAL);
    }
    summary_msg(&m, 1, 3);
    m.u.summary.entries[2] = m.u.summary.entries[1];
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    summary_msg(&m, 1, 3);
    m.u.summary.entries[0].key[0] = 0xff;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    summary_msg(&m, 1, 2);
    m.u.summary.entries[1].key[0] = m.u.summary.entries[0].key[0];
    memcpy(m.u.summary.entries[1].key, m.u.summary.entries[0].key, CORDON_OBJECT_ENTRY_KEY_LEN);
    m.u.summary.entries[1].key[CORDON_OBJECT_ENTRY_KEY_LEN - 1]--;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    m.u.summary.entries[1].key[CORDON_OBJECT_ENTRY_KEY_LEN - 1] += 2;
    assert_int_equal(cordon_msg_encode(&m, out, sizeof(out), &len), CORDON_OK);
    /* ... entries past count are not part of the message. */
    summary_msg(&m, 1, 2);
    memset(&m.u.summary.entries[2], 0, sizeof(m.u.summary.entries[2]));
    assert_int_equal(cordon_msg_encode(&m, out, sizeof(out), &len), CORDON_OK);

    /* WANT: count up to CORDON_SUMMARY_MAX, indexes strictly increasing and below it. */
    want_msg(&m, 1, want_all, CORDON_SUMMARY_MAX);
    m.u.want.count = CORDON_SUMMARY_MAX + 1;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    m.u.want.count = 0xff;
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    want_msg(&m, 1, (const uint8_t[]){CORDON_SUMMARY_MAX}, 1);
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    want_msg(&m, 1, (const uint8_t[]){2, 2}, 2);
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    want_msg(&m, 1, (const uint8_t[]){2, 1}, 2);
    expect_encode_fails(&m, CORDON_ERR_INVAL);
    want_msg(&m, 1, (const uint8_t[]){2, 1}, 1); /* the 1 is past count */
    assert_int_equal(cordon_msg_encode(&m, out, sizeof(out), &len), CORDON_OK);

    /* STORED: any code is a message. */
    stored_msg(&m, 1, 0xffff, 0);
    assert_int_equal(cordon_msg_encode(&m, out, sizeof(out), &len), CORDON_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_largest_message_fills_msg_max),
        cmocka_unit_test(test_largest_objects),
        cmocka_unit_test(test_decode_zeroes_unused_bytes),
        cmocka_unit_test(test_truncation_sweep),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_bit_flip_sweep),
        cmocka_unit_test(test_byte_value_sweep),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_reserved_byte),
        cmocka_unit_test(test_find_node_length),
        cmocka_unit_test(test_nodes_count),
        cmocka_unit_test(test_nodes_family),
        cmocka_unit_test(test_nodes_port_zero),
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_decode_args),
        cmocka_unit_test(test_storage_known_answer),
        cmocka_unit_test(test_object_length),
        cmocka_unit_test(test_object_found),
        cmocka_unit_test(test_stored_body),
        cmocka_unit_test(test_stored_codes),
        cmocka_unit_test(test_summary_count),
        cmocka_unit_test(test_summary_order),
        cmocka_unit_test(test_want),
        cmocka_unit_test(test_fetch_length),
        cmocka_unit_test(test_encode_refuses_invalid),
        cmocka_unit_test(test_encode_refuses_invalid_storage),
        cmocka_unit_test(test_encode_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
