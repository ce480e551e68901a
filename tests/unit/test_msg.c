/*
 * tests/unit/test_msg.c — the overlay message codec (wire/msg.h): known-answer bytes that
 * pin the layout, round trips for every type, truncation, trailing-byte, bit-flip and
 * byte-value sweeps over known-good encodings (whatever still decodes must re-encode to
 * the very same bytes), each strictness rule with its exact error, the encoder refusing
 * what the decoder refuses, canaries around the encoder's output and an untouched output
 * struct on every failed decode.
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
#include "wire/msg.h"

#define CANARY 0xCC
#define POISON 0xA5

/* ---- building messages --------------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
}

static void header(struct cordon_msg *m, uint8_t type, uint32_t txid)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->flags =
        (type == CORDON_MSG_PING || type == CORDON_MSG_FIND_NODE) ? 0 : CORDON_MSG_FLAG_RESPONSE;
    m->txid = txid;
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

enum { N_VALID = 14 };

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
    default:
        break;
    }
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
    bool seen[6] = {false};
    for (size_t i = 0; i < N_VALID; i++) {
        uint8_t out[CORDON_MSG_MAX], again[CORDON_MSG_MAX];
        size_t len = encode(&v[i], out);
        struct cordon_msg d;
        assert_int_equal(decode(out, len, &d), CORDON_OK);
        assert_msg_equal(&d, &v[i]);
        assert_int_equal(encode(&d, again), len);
        assert_memory_equal(again, out, len);
        seen[v[i].type] = true;
    }
    for (int t = CORDON_MSG_PING; t <= CORDON_MSG_ERROR; t++)
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
    const uint8_t types[] = {0, 6, 15, 16, 17, 31, 32, 0x80, 0xff};
    for (size_t i = 0; i < sizeof(types); i++) {
        for (uint8_t flags = 0; flags <= 1; flags++) {
            uint8_t b[] = {1, types[i], flags, 0, 0, 0, 0, 1};
            expect_decode(b, sizeof(b), CORDON_ERR_MALFORMED);
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

    const uint8_t types[] = {0, 6, 16, 31, 0xff};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_largest_message_fills_msg_max),
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
        cmocka_unit_test(test_encode_refuses_invalid),
        cmocka_unit_test(test_encode_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
