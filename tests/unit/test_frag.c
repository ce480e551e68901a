/*
 * tests/unit/test_frag.c — records and fragments (wire/frag.h): known-answer bytes that pin
 * the layout, split/reassemble round trips at every size boundary, out-of-order and
 * duplicated delivery, truncation, trailing-byte and bit-flip sweeps over every record,
 * lying counts, indices, lengths and totals, oversized totals refused before allocation,
 * the in-flight, byte and shared-budget caps, timeouts, the replay window, canaries around
 * the encoder's output, and the exact error and counter of every drop. After every push
 * the counters must add up and memory must stay under its bound.
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
#include "wire/writer.h"

#define CANARY 0xCC

/* ---- helpers --------------------------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8) + 1u);
}

static uint8_t *message(size_t n, unsigned seed)
{
    uint8_t *m = malloc(n ? n : 1);
    assert_non_null(m);
    fill(m, n, seed);
    return m;
}

/* The records of one message, as cordon_frag_split emitted them. */
struct recs {
    size_t n;
    size_t len[CORDON_FRAG_COUNT_MAX];
    uint8_t rec[CORDON_FRAG_COUNT_MAX][CORDON_RECORD_MAX];
};

static cordon_err collect(void *ctx, const uint8_t *rec, size_t len)
{
    struct recs *r = ctx;
    assert_true(r->n < CORDON_FRAG_COUNT_MAX);
    assert_true(len <= CORDON_RECORD_MAX);
    memcpy(r->rec[r->n], rec, len);
    r->len[r->n] = len;
    r->n++;
    return CORDON_OK;
}

static struct recs *split(const uint8_t *msg, size_t len, uint32_t id)
{
    struct recs *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(cordon_frag_split(msg, len, id, collect, r), CORDON_OK);
    assert_int_equal(r->n, cordon_frag_count(len));
    return r;
}

static struct cordon_frag_rx *rx_new(struct cordon_frag_budget *shared)
{
    struct cordon_frag_rx *rx = NULL;
    assert_int_equal(cordon_frag_rx_new(shared, &rx), CORDON_OK);
    assert_non_null(rx);
    return rx;
}

static size_t base_memory(void)
{
    return cordon_frag_rx_memory_max() - CORDON_FRAG_BUFFERED_MAX;
}

static void check_invariants(const struct cordon_frag_rx *rx)
{
    const struct cordon_frag_counters *c = cordon_frag_rx_counters(rx);
    uint64_t drops = c->drop_truncated + c->drop_oversize + c->drop_kind + c->drop_too_large +
                     c->drop_malformed + c->drop_mismatch + c->drop_duplicate + c->drop_replay +
                     c->drop_busy + c->drop_nomem;
    assert_int_equal(c->records, c->whole + c->fragments + drops);
    assert_true(cordon_frag_rx_memory(rx) <= cordon_frag_rx_memory_max());
    assert_true(cordon_frag_rx_memory(rx) >= base_memory());
    assert_true(cordon_frag_rx_inflight(rx) <= CORDON_FRAG_INFLIGHT_MAX);
}

/* Pushes and returns the error; *out and *out_len get the delivered message, if any. */
static cordon_err push(struct cordon_frag_rx *rx, const uint8_t *rec, size_t len, uint64_t now,
                       const uint8_t **out, size_t *out_len)
{
    const uint8_t *m = (const uint8_t *)"poison";
    size_t n = 12345;
    cordon_err err = cordon_frag_rx_push(rx, rec, len, now, &m, &n);
    if (err != CORDON_OK || m == NULL) {
        assert_null(m);
        assert_int_equal(n, 0);
    }
    check_invariants(rx);
    if (out)
        *out = m;
    if (out_len)
        *out_len = n;
    return err;
}

/* Pushes a record that must be accepted without completing a message. */
static void push_pending(struct cordon_frag_rx *rx, const uint8_t *rec, size_t len, uint64_t now)
{
    const uint8_t *m;
    assert_int_equal(push(rx, rec, len, now, &m, NULL), CORDON_OK);
    assert_null(m);
}

/* Pushes a record that must complete exactly msg. */
static void push_done(struct cordon_frag_rx *rx, const uint8_t *rec, size_t len, uint64_t now,
                      const uint8_t *msg, size_t msg_len)
{
    const uint8_t *m;
    size_t n;
    assert_int_equal(push(rx, rec, len, now, &m, &n), CORDON_OK);
    assert_non_null(m);
    assert_int_equal(n, msg_len);
    if (msg_len)
        assert_memory_equal(m, msg, msg_len);
}

/* A hand-made FRAGMENT record with data_n bytes of data; returns its length. */
static size_t craft(uint8_t *out, uint8_t kind, uint32_t id, uint16_t index, uint16_t count,
                    uint32_t total, size_t data_n)
{
    cordon_writer w;
    cordon_writer_init(&w, out, CORDON_RECORD_MAX + 64);
    cordon_write_u8(&w, kind);
    cordon_write_u32(&w, id);
    cordon_write_u16(&w, index);
    cordon_write_u16(&w, count);
    cordon_write_u32(&w, total);
    uint8_t data[CORDON_RECORD_MAX + 64];
    fill(data, data_n, index);
    cordon_write_bytes(&w, data, data_n);
    size_t n = 0;
    assert_int_equal(cordon_writer_finish(&w, &n), CORDON_OK);
    return n;
}

static const struct cordon_frag_counters *counters(const struct cordon_frag_rx *rx)
{
    return cordon_frag_rx_counters(rx);
}

/* ---- layout ---------------------------------------------------------------------------- */

static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(CORDON_RECORD_MAX, 1195);
    assert_int_equal(CORDON_RECORD_PAYLOAD, 1194);
    assert_int_equal(CORDON_FRAG_DATA_MAX, 1182);
    assert_int_equal(CORDON_FRAG_COUNT_MAX, 111);
    assert_int_equal(cordon_frag_count(0), 1);
    assert_int_equal(cordon_frag_count(CORDON_RECORD_PAYLOAD), 1);
    assert_int_equal(cordon_frag_count(CORDON_RECORD_PAYLOAD + 1), 2);
    assert_int_equal(cordon_frag_count(2 * CORDON_FRAG_DATA_MAX), 2);
    assert_int_equal(cordon_frag_count(2 * CORDON_FRAG_DATA_MAX + 1), 3);
    assert_int_equal(cordon_frag_count(CORDON_FRAG_MSG_MAX), CORDON_FRAG_COUNT_MAX);
    assert_int_equal(cordon_frag_count(CORDON_FRAG_MSG_MAX + 1), 0);
    assert_int_equal(cordon_frag_count(SIZE_MAX), 0);
}

static void test_known_answer(void **state)
{
    (void)state;
    uint8_t out[CORDON_RECORD_MAX];
    size_t n = 0;
    assert_int_equal(cordon_frag_encode((const uint8_t *)"hi", 2, 9, 0, out, sizeof(out), &n),
                     CORDON_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\x01hi", 3);

    /* 1195 bytes: one full fragment and one of 13 bytes. */
    uint8_t *msg = message(CORDON_RECORD_MAX, 1);
    assert_int_equal(
        cordon_frag_encode(msg, CORDON_RECORD_MAX, 0x01020304u, 0, out, sizeof(out), &n),
        CORDON_OK);
    assert_int_equal(n, CORDON_RECORD_MAX);
    static const uint8_t h0[13] = {0x02, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00,
                                   0x00, 0x02, 0x00, 0x00, 0x04, 0xab};
    assert_memory_equal(out, h0, sizeof(h0));
    assert_memory_equal(out + 13, msg, CORDON_FRAG_DATA_MAX);
    assert_int_equal(
        cordon_frag_encode(msg, CORDON_RECORD_MAX, 0x01020304u, 1, out, sizeof(out), &n),
        CORDON_OK);
    assert_int_equal(n, 13 + 13);
    static const uint8_t h1[13] = {0x02, 0x01, 0x02, 0x03, 0x04, 0x00, 0x01,
                                   0x00, 0x02, 0x00, 0x00, 0x04, 0xab};
    assert_memory_equal(out, h1, sizeof(h1));
    assert_memory_equal(out + 13, msg + CORDON_FRAG_DATA_MAX, 13);
    free(msg);
}

/* ---- round trips ----------------------------------------------------------------------- */

static const size_t sizes[] = {
    0,
    1,
    CORDON_RECORD_PAYLOAD - 1,
    CORDON_RECORD_PAYLOAD,
    CORDON_RECORD_PAYLOAD + 1,
    CORDON_RECORD_MAX - 1,
    CORDON_RECORD_MAX,
    CORDON_RECORD_MAX + 1,
    2 * CORDON_FRAG_DATA_MAX - 1,
    2 * CORDON_FRAG_DATA_MAX,
    2 * CORDON_FRAG_DATA_MAX + 1,
    1641, /* CORDON_MSG_MAX, the largest overlay message without an object */
    64 * 1024 + 1024,
    68123, /* CORDON_MSG_STORAGE_MAX, an OBJECT carrying the largest object */
    CORDON_FRAG_MSG_MAX - 1,
    CORDON_FRAG_MSG_MAX,
};

static void test_round_trip_sizes(void **state)
{
    (void)state;
    struct cordon_frag_rx *rx = rx_new(NULL);
    uint64_t now = 1000;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t len = sizes[k];
        uint8_t *msg = message(len, (unsigned)k);
        struct recs *r = split(msg, len, (uint32_t)k);
        for (size_t i = 0; i < r->n; i++) {
            assert_true(r->len[i] <= CORDON_RECORD_MAX);
            assert_int_equal(r->rec[i][0],
                             r->n == 1 ? CORDON_FRAG_KIND_WHOLE : CORDON_FRAG_KIND_FRAGMENT);
        }
        for (size_t i = 0; i + 1 < r->n; i++) {
            assert_int_equal(r->len[i], CORDON_RECORD_MAX);
            push_pending(rx, r->rec[i], r->len[i], now);
        }
        push_done(rx, r->rec[r->n - 1], r->len[r->n - 1], now, msg, len);
        /* The delivered buffer is held until the next call. */
        if (r->n > 1)
            assert_int_equal(cordon_frag_rx_memory(rx), base_memory() + len);
        cordon_frag_rx_expire(rx, now);
        assert_int_equal(cordon_frag_rx_memory(rx), base_memory());
        assert_int_equal(cordon_frag_rx_inflight(rx), 0);
        now += 10;
        free(r);
        free(msg);
    }
    const struct cordon_frag_counters *c = counters(rx);
    assert_int_equal(c->whole + c->reassembled, sizeof(sizes) / sizeof(sizes[0]));
    assert_int_equal(c->whole, 5); /* 0, 1, payload - 1, payload, record - 1 (= payload) */
    assert_int_equal(c->records, c->whole + c->fragments);
    cordon_frag_rx_free(rx);
}

/* Reverse, shuffled and doubled delivery of the largest message. */
static void test_out_of_order_and_duplicates(void **state)
{
    (void)state;
    size_t len = CORDON_FRAG_MSG_MAX;
    uint8_t *msg = message(len, 77);
    struct recs *r = split(msg, len, 42);
    struct cordon_frag_rx *rx = rx_new(NULL);

    /* Reverse. */
    for (size_t i = r->n; i-- > 1;)
        push_pending(rx, r->rec[i], r->len[i], 5);
    push_done(rx, r->rec[0], r->len[0], 5, msg, len);

    /* Shuffled and every fragment twice, under a fresh id. */
    free(r);
    r = split(msg, len, 43);
    size_t order[CORDON_FRAG_COUNT_MAX];
    for (size_t i = 0; i < r->n; i++)
        order[i] = i;
    uint32_t x = 12345;
    for (size_t i = r->n - 1; i > 0; i--) {
        x = x * 1103515245u + 12345u;
        size_t j = (x >> 8) % (i + 1);
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k + 1 < r->n; k++) {
        size_t i = order[k];
        push_pending(rx, r->rec[i], r->len[i], 6);
        assert_int_equal(push(rx, r->rec[i], r->len[i], 6, NULL, NULL), CORDON_ERR_EXISTS);
    }
    assert_int_equal(counters(rx)->drop_duplicate, r->n - 1);
    size_t last = order[r->n - 1];
    push_done(rx, r->rec[last], r->len[last], 6, msg, len);
    /* The completing fragment once more: a replay now, not a duplicate. */
    assert_int_equal(push(rx, r->rec[last], r->len[last], 6, NULL, NULL), CORDON_ERR_EXISTS);
    assert_int_equal(counters(rx)->drop_replay, 1);
    assert_int_equal(counters(rx)->reassembled, 2);
    assert_int_equal(cordon_frag_rx_memory(rx), base_memory());
    cordon_frag_rx_free(rx);
    free(r);
    free(msg);
}

/* CORDON_FRAG_INFLIGHT_MAX messages interleaved fragment by fragment all arrive. */
static void test_interleaved(void **state)
{
    (void)state;
    enum { N = CORDON_FRAG_INFLIGHT_MAX };
    uint8_t *msgs[N];
    struct recs *r[N];
    size_t lens[N] = {CORDON_RECORD_PAYLOAD + 1, 5000, 3 * CORDON_FRAG_DATA_MAX, 9999};
    for (size_t k = 0; k < N; k++) {
        msgs[k] = message(lens[k], (unsigned)k + 10);
        r[k] = split(msgs[k], lens[k], (uint32_t)(1000 + k));
    }
    struct cordon_frag_rx *rx = rx_new(NULL);
    size_t delivered = 0;
    for (size_t i = 0; i < CORDON_FRAG_COUNT_MAX; i++) {
        for (size_t k = 0; k < N; k++) {
            if (i >= r[k]->n)
                continue;
            if (i + 1 == r[k]->n) {
                push_done(rx, r[k]->rec[i], r[k]->len[i], 100, msgs[k], lens[k]);
                delivered++;
            } else {
                push_pending(rx, r[k]->rec[i], r[k]->len[i], 100);
            }
        }
    }
    assert_int_equal(delivered, N);
    assert_int_equal(counters(rx)->evicted, 0);
    cordon_frag_rx_free(rx);
    for (size_t k = 0; k < N; k++) {
        free(r[k]);
        free(msgs[k]);
    }
}

/* ---- bad input ------------------------------------------------------------------------- */

/* Every prefix of every record is dropped with the right error and leaves no state; every
 * record with a byte appended too; the intact records still deliver afterwards. */
static void test_truncation_sweep(void **state)
{
    (void)state;
    size_t len = 2 * CORDON_FRAG_DATA_MAX + 100;
    uint8_t *msg = message(len, 3);
    struct recs *r = split(msg, len, 7);
    assert_int_equal(r->n, 3);
    struct cordon_frag_rx *rx = rx_new(NULL);
    uint64_t truncated = 0, malformed = 0;
    for (size_t i = 0; i < r->n; i++) {
        for (size_t cut = 0; cut < r->len[i]; cut++) {
            cordon_err want =
                cut < CORDON_FRAG_HEADER_LEN ? CORDON_ERR_TRUNCATED : CORDON_ERR_MALFORMED;
            assert_int_equal(push(rx, r->rec[i], cut, 1, NULL, NULL), want);
            if (want == CORDON_ERR_TRUNCATED)
                truncated++;
            else
                malformed++;
            assert_int_equal(cordon_frag_rx_inflight(rx), 0);
            assert_int_equal(cordon_frag_rx_memory(rx), base_memory());
        }
        uint8_t longer[CORDON_RECORD_MAX + 1];
        memcpy(longer, r->rec[i], r->len[i]);
        longer[r->len[i]] = 0;
        cordon_err want =
            r->len[i] == CORDON_RECORD_MAX ? CORDON_ERR_TOO_LARGE : CORDON_ERR_MALFORMED;
        assert_int_equal(push(rx, longer, r->len[i] + 1, 1, NULL, NULL), want);
        if (want == CORDON_ERR_MALFORMED)
            malformed++;
    }
    const struct cordon_frag_counters *c = counters(rx);
    assert_int_equal(c->drop_truncated, truncated);
    assert_int_equal(c->drop_malformed, malformed);
    assert_int_equal(c->drop_oversize, 2);
    assert_int_equal(c->fragments, 0);

    push_pending(rx, r->rec[0], r->len[0], 2);
    push_pending(rx, r->rec[1], r->len[1], 2);
    push_done(rx, r->rec[2], r->len[2], 2, msg, len);

    /* A WHOLE record has no length field (DTLS delivers records whole): a prefix is a
     * shorter message, and the empty record is the only truncated one. */
    assert_int_equal(push(rx, (const uint8_t *)"", 0, 3, NULL, NULL), CORDON_ERR_TRUNCATED);
    push_done(rx, (const uint8_t *)"\x01", 1, 3, NULL, 0);
    cordon_frag_rx_free(rx);
    free(r);
    free(msg);
}

/* Any single bit flipped in a fragment header: no crash, counters add up, memory bounded,
 * and the honest message arrives at most once and at its full length (a flip can make a
 * convincing fragment: integrity is DTLS's job, bounds are ours). */
static void test_bit_flip_sweep(void **state)
{
    (void)state;
    size_t len = 2 * CORDON_FRAG_DATA_MAX + 100;
    uint8_t *msg = message(len, 4);
    struct recs *r = split(msg, len, 0x11223344u);
    for (size_t i = 0; i < r->n; i++) {
        for (size_t bit = 0; bit < 8 * CORDON_FRAG_HEADER_LEN; bit++) {
            struct cordon_frag_rx *rx = rx_new(NULL);
            uint8_t bad[CORDON_RECORD_MAX];
            memcpy(bad, r->rec[i], r->len[i]);
            bad[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
            const uint8_t *m;
            size_t n;
            cordon_err err = push(rx, bad, r->len[i], 1, &m, &n);
            assert_true(err == CORDON_OK || err == CORDON_ERR_MALFORMED ||
                        err == CORDON_ERR_TOO_LARGE);
            size_t got = 0;
            for (size_t j = 0; j < r->n; j++) {
                err = push(rx, r->rec[j], r->len[j], 2, &m, &n);
                assert_true(err == CORDON_OK || err == CORDON_ERR_EXISTS ||
                            err == CORDON_ERR_MALFORMED);
                if (m) {
                    assert_int_equal(n, len);
                    got++;
                }
            }
            assert_true(got <= 1);
            cordon_frag_rx_free(rx);
        }
    }
    free(r);
    free(msg);
}

static void test_lying_fields(void **state)
{
    (void)state;
    struct cordon_frag_rx *rx = rx_new(NULL);
    uint8_t rec[CORDON_RECORD_MAX + 64];
    const uint32_t total = 3 * CORDON_FRAG_DATA_MAX; /* 3 full fragments */
    size_t n;

    /* count that does not follow from total, either way. */
    n = craft(rec, 2, 1, 0, 2, total, CORDON_FRAG_DATA_MAX);
    assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    n = craft(rec, 2, 1, 0, 4, total, CORDON_FRAG_DATA_MAX);
    assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    n = craft(rec, 2, 1, 0, 0xffff, total, CORDON_FRAG_DATA_MAX);
    assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    /* index past count. */
    n = craft(rec, 2, 1, 3, 3, total, CORDON_FRAG_DATA_MAX);
    assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    /* A total that must go WHOLE, with the count it would have, and zero. */
    n = craft(rec, 2, 1, 0, 1, CORDON_RECORD_PAYLOAD, 10);
    assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    n = craft(rec, 2, 1, 0, 0, 0, 0);
    assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    /* Data shorter or longer than the slot: the last fragment of 1195 bytes has 13. */
    n = craft(rec, 2, 1, 1, 2, CORDON_RECORD_MAX, 12);
    assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    n = craft(rec, 2, 1, 1, 2, CORDON_RECORD_MAX, 14);
    assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    n = craft(rec, 2, 1, 0, 2, CORDON_RECORD_MAX, CORDON_FRAG_DATA_MAX - 1);
    assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    assert_int_equal(counters(rx)->drop_malformed, 9);

    /* Unknown kinds. */
    static const uint8_t kinds[] = {0, 3, 0x7f, 0x81, 0xff};
    for (size_t i = 0; i < sizeof(kinds); i++) {
        n = craft(rec, kinds[i], 1, 0, 3, total, CORDON_FRAG_DATA_MAX);
        assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_MALFORMED);
    }
    assert_int_equal(counters(rx)->drop_kind, sizeof(kinds));
    assert_int_equal(cordon_frag_rx_inflight(rx), 0);
    assert_int_equal(cordon_frag_rx_memory(rx), base_memory());

    /* A second fragment whose total (and count) disagree with the first: the message is
     * abandoned, its buffer freed and its id retired. */
    n = craft(rec, 2, 5, 0, 3, total, CORDON_FRAG_DATA_MAX);
    push_pending(rx, rec, n, 2);
    assert_int_equal(cordon_frag_rx_memory(rx), base_memory() + total);
    n = craft(rec, 2, 5, 1, 4, total + 1, CORDON_FRAG_DATA_MAX);
    assert_int_equal(push(rx, rec, n, 2, NULL, NULL), CORDON_ERR_MALFORMED);
    assert_int_equal(counters(rx)->drop_mismatch, 1);
    assert_int_equal(cordon_frag_rx_inflight(rx), 0);
    assert_int_equal(cordon_frag_rx_memory(rx), base_memory());
    n = craft(rec, 2, 5, 1, 3, total, CORDON_FRAG_DATA_MAX);
    assert_int_equal(push(rx, rec, n, 2, NULL, NULL), CORDON_ERR_EXISTS);
    assert_int_equal(counters(rx)->drop_replay, 1);
    cordon_frag_rx_free(rx);
}

static void test_oversize_refused_before_allocation(void **state)
{
    (void)state;
    struct cordon_frag_budget budget = {.used = 0, .max = CORDON_FRAG_PEER_BUFFERED_MAX};
    struct cordon_frag_rx *rx = rx_new(&budget);
    uint8_t rec[CORDON_RECORD_MAX + 64];
    static const uint32_t totals[] = {CORDON_FRAG_MSG_MAX + 1, 1u << 24, UINT32_MAX};
    for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
        uint64_t count = ((uint64_t)totals[i] + CORDON_FRAG_DATA_MAX - 1) / CORDON_FRAG_DATA_MAX;
        uint16_t c16 = count > 0xffff ? 0xffff : (uint16_t)count;
        size_t n = craft(rec, 2, 9, 0, c16, totals[i], CORDON_FRAG_DATA_MAX);
        assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_TOO_LARGE);
        /* Even with a count and data that would be wrong anyway: the total is checked
         * first. */
        n = craft(rec, 2, 9, 5, 0, totals[i], 0);
        assert_int_equal(push(rx, rec, n, 1, NULL, NULL), CORDON_ERR_TOO_LARGE);
        assert_int_equal(cordon_frag_rx_memory(rx), base_memory());
        assert_int_equal(budget.used, 0);
    }
    assert_int_equal(counters(rx)->drop_too_large, 6);

    /* A record over CORDON_RECORD_MAX is refused before it is parsed. */
    uint8_t *big = calloc(1, 65536);
    assert_non_null(big);
    big[0] = CORDON_FRAG_KIND_WHOLE;
    assert_int_equal(push(rx, big, CORDON_RECORD_MAX + 1, 1, NULL, NULL), CORDON_ERR_TOO_LARGE);
    assert_int_equal(push(rx, big, 65536, 1, NULL, NULL), CORDON_ERR_TOO_LARGE);
    assert_int_equal(counters(rx)->drop_oversize, 2);
    assert_int_equal(counters(rx)->whole, 0);
    assert_int_equal(cordon_frag_rx_inflight(rx), 0);
    free(big);
    cordon_frag_rx_free(rx);
    assert_int_equal(budget.used, 0);
}

/* ---- caps ------------------------------------------------------------------------------ */

/* The 5th concurrent message evicts the one that started first, even if that one got a
 * fragment more recently; the evicted id's stragglers are replays. */
static void test_inflight_cap_evicts_oldest(void **state)
{
    (void)state;
    enum { N = CORDON_FRAG_INFLIGHT_MAX + 1 };
    size_t len = 3 * CORDON_FRAG_DATA_MAX;
    uint8_t *msg = message(len, 5);
    struct recs *r[N];
    for (size_t k = 0; k < N; k++)
        r[k] = split(msg, len, (uint32_t)(50 + k));
    struct cordon_frag_rx *rx = rx_new(NULL);
    for (size_t k = 0; k + 1 < N; k++)
        push_pending(rx, r[k]->rec[0], r[k]->len[0], 10 + k);
    push_pending(rx, r[0]->rec[1], r[0]->len[1], 20); /* recent activity does not save it */
    assert_int_equal(cordon_frag_rx_inflight(rx), CORDON_FRAG_INFLIGHT_MAX);
    assert_int_equal(cordon_frag_rx_memory(rx), base_memory() + CORDON_FRAG_INFLIGHT_MAX * len);

    push_pending(rx, r[N - 1]->rec[0], r[N - 1]->len[0], 21);
    assert_int_equal(counters(rx)->evicted, 1);
    assert_int_equal(cordon_frag_rx_inflight(rx), CORDON_FRAG_INFLIGHT_MAX);
    assert_int_equal(cordon_frag_rx_memory(rx), base_memory() + CORDON_FRAG_INFLIGHT_MAX * len);
    assert_int_equal(push(rx, r[0]->rec[2], r[0]->len[2], 22, NULL, NULL), CORDON_ERR_EXISTS);
    assert_int_equal(counters(rx)->drop_replay, 1);
    for (size_t k = 1; k < N; k++) {
        push_pending(rx, r[k]->rec[1], r[k]->len[1], 23);
        push_done(rx, r[k]->rec[2], r[k]->len[2], 23, msg, len);
    }
    assert_int_equal(counters(rx)->reassembled, N - 1);
    cordon_frag_rx_free(rx);
    for (size_t k = 0; k < N; k++)
        free(r[k]);
    free(msg);
}

/* Bytes: two largest messages fill CORDON_FRAG_BUFFERED_MAX; a third evicts the oldest. */
static void test_bytes_cap(void **state)
{
    (void)state;
    size_t len = CORDON_FRAG_MSG_MAX;
    uint8_t *msg = message(len, 6);
    struct recs *r[3];
    for (size_t k = 0; k < 3; k++)
        r[k] = split(msg, len, (uint32_t)(70 + k));
    struct cordon_frag_rx *rx = rx_new(NULL);
    push_pending(rx, r[0]->rec[0], r[0]->len[0], 1);
    push_pending(rx, r[1]->rec[0], r[1]->len[0], 2);
    assert_int_equal(cordon_frag_rx_memory(rx), cordon_frag_rx_memory_max());
    push_pending(rx, r[2]->rec[0], r[2]->len[0], 3);
    assert_int_equal(counters(rx)->evicted, 1);
    assert_int_equal(cordon_frag_rx_inflight(rx), 2);
    assert_int_equal(cordon_frag_rx_memory(rx), cordon_frag_rx_memory_max());
    /* A small message now needs the bytes of another: it evicts r[1]. */
    uint8_t small[2 * CORDON_RECORD_MAX];
    size_t sn = 0;
    uint8_t *smsg = message(CORDON_RECORD_MAX, 8);
    assert_int_equal(cordon_frag_encode(smsg, CORDON_RECORD_MAX, 99, 0, small, sizeof(small), &sn),
                     CORDON_OK);
    push_pending(rx, small, sn, 4);
    assert_int_equal(counters(rx)->evicted, 2);
    assert_int_equal(cordon_frag_rx_memory(rx), base_memory() + len + CORDON_RECORD_MAX);
    /* r[2] completes. */
    for (size_t i = 1; i + 1 < r[2]->n; i++)
        push_pending(rx, r[2]->rec[i], r[2]->len[i], 5);
    push_done(rx, r[2]->rec[r[2]->n - 1], r[2]->len[r[2]->n - 1], 5, msg, len);
    assert_true(cordon_frag_rx_memory(rx) <= cordon_frag_rx_memory_max());
    cordon_frag_rx_free(rx);
    for (size_t k = 0; k < 3; k++)
        free(r[k]);
    free(smsg);
    free(msg);
}

/* The shared budget refuses a remote's new message rather than letting it grow, and does
 * not make it evict its own messages for nothing. */
static void test_shared_budget(void **state)
{
    (void)state;
    struct cordon_frag_budget budget = {.used = 0, .max = CORDON_FRAG_MSG_MAX + 10000};
    struct cordon_frag_rx *a = rx_new(&budget);
    struct cordon_frag_rx *b = rx_new(&budget);
    uint8_t *big = message(CORDON_FRAG_MSG_MAX, 1);
    uint8_t *mid = message(20000, 2);
    uint8_t *small = message(5000, 3);
    struct recs *rbig = split(big, CORDON_FRAG_MSG_MAX, 1);
    struct recs *rmid = split(mid, 20000, 2);
    struct recs *rsmall = split(small, 5000, 3);

    push_pending(a, rbig->rec[0], rbig->len[0], 1);
    push_pending(b, rsmall->rec[0], rsmall->len[0], 1);
    assert_int_equal(budget.used, CORDON_FRAG_MSG_MAX + 5000);
    assert_int_equal(push(b, rmid->rec[0], rmid->len[0], 1, NULL, NULL), CORDON_ERR_BUSY);
    assert_int_equal(counters(b)->drop_busy, 1);
    assert_int_equal(counters(b)->evicted, 0);
    assert_int_equal(cordon_frag_rx_inflight(b), 1);
    assert_int_equal(counters(a)->evicted, 0);
    /* Not retired: once the budget has room, the same message is accepted. */
    cordon_frag_rx_free(a);
    assert_int_equal(budget.used, 5000);
    for (size_t i = 0; i + 1 < rmid->n; i++)
        push_pending(b, rmid->rec[i], rmid->len[i], 2);
    push_done(b, rmid->rec[rmid->n - 1], rmid->len[rmid->n - 1], 2, mid, 20000);
    assert_int_equal(budget.used, 25000); /* the delivered buffer until the next call */
    cordon_frag_rx_expire(b, 2);
    assert_int_equal(budget.used, 5000);
    cordon_frag_rx_free(b);
    assert_int_equal(budget.used, 0);
    free(rbig);
    free(rmid);
    free(rsmall);
    free(big);
    free(mid);
    free(small);
}

static void test_timeouts(void **state)
{
    (void)state;
    size_t len = 2 * CORDON_FRAG_DATA_MAX + 1;
    uint8_t *msg = message(len, 9);
    struct cordon_frag_rx *rx = rx_new(NULL);
    assert_int_equal(cordon_frag_rx_deadline(rx), UINT64_MAX);

    /* Just in time: the timeout runs from the first fragment. */
    struct recs *r = split(msg, len, 1);
    push_pending(rx, r->rec[0], r->len[0], 1000);
    assert_int_equal(cordon_frag_rx_deadline(rx), 1000 + CORDON_FRAG_TIMEOUT_MS);
    push_pending(rx, r->rec[1], r->len[1], 2500);
    assert_int_equal(cordon_frag_rx_deadline(rx), 1000 + CORDON_FRAG_TIMEOUT_MS);
    push_done(rx, r->rec[2], r->len[2], 1000 + CORDON_FRAG_TIMEOUT_MS - 1, msg, len);
    free(r);

    /* Too late, although each fragment came soon after the one before. */
    r = split(msg, len, 2);
    push_pending(rx, r->rec[0], r->len[0], 10000);
    push_pending(rx, r->rec[1], r->len[1], 11000);
    assert_int_equal(push(rx, r->rec[2], r->len[2], 10000 + CORDON_FRAG_TIMEOUT_MS, NULL, NULL),
                     CORDON_ERR_EXISTS);
    assert_int_equal(counters(rx)->expired, 1);
    assert_int_equal(counters(rx)->drop_replay, 1);
    assert_int_equal(cordon_frag_rx_memory(rx), base_memory());
    free(r);

    /* The timer path frees memory without traffic. */
    r = split(msg, len, 3);
    push_pending(rx, r->rec[0], r->len[0], 20000);
    cordon_frag_rx_expire(rx, 20000 + CORDON_FRAG_TIMEOUT_MS - 1);
    assert_int_equal(cordon_frag_rx_inflight(rx), 1);
    cordon_frag_rx_expire(rx, 20000 + CORDON_FRAG_TIMEOUT_MS);
    assert_int_equal(cordon_frag_rx_inflight(rx), 0);
    assert_int_equal(cordon_frag_rx_memory(rx), base_memory());
    assert_int_equal(counters(rx)->expired, 2);
    assert_int_equal(cordon_frag_rx_deadline(rx), UINT64_MAX);
    free(r);

    /* A clock that steps back counts as no time passed. */
    r = split(msg, len, 4);
    push_pending(rx, r->rec[0], r->len[0], 30000);
    push_pending(rx, r->rec[1], r->len[1], 100);
    push_done(rx, r->rec[2], r->len[2], 30000 + CORDON_FRAG_TIMEOUT_MS - 1, msg, len);
    assert_int_equal(counters(rx)->expired, 2);
    free(r);

    /* Deadline at the end of time does not wrap. */
    r = split(msg, len, 5);
    push_pending(rx, r->rec[0], r->len[0], UINT64_MAX - 10);
    assert_int_equal(cordon_frag_rx_deadline(rx), UINT64_MAX);
    free(r);
    cordon_frag_rx_free(rx);
    free(msg);
}

/* A completed message's fragments never deliver it again while its id is among the last
 * CORDON_FRAG_RETIRED_MAX retired; after that the id is free for reuse. */
static void test_replay_window(void **state)
{
    (void)state;
    size_t len = CORDON_RECORD_PAYLOAD + 1;
    uint8_t *msg = message(len, 11);
    struct recs *r = split(msg, len, 7);
    struct cordon_frag_rx *rx = rx_new(NULL);
    push_pending(rx, r->rec[0], r->len[0], 1);
    push_done(rx, r->rec[1], r->len[1], 1, msg, len);
    for (size_t i = 0; i < r->n; i++)
        assert_int_equal(push(rx, r->rec[i], r->len[i], 1, NULL, NULL), CORDON_ERR_EXISTS);
    assert_int_equal(counters(rx)->drop_replay, r->n);

    for (uint32_t k = 0; k < CORDON_FRAG_RETIRED_MAX; k++) {
        struct recs *o = split(msg, len, 100 + k);
        push_pending(rx, o->rec[0], o->len[0], 2);
        push_done(rx, o->rec[1], o->len[1], 2, msg, len);
        free(o);
        if (k + 2 == CORDON_FRAG_RETIRED_MAX) { /* 63 others: 7 is the oldest remembered */
            assert_int_equal(push(rx, r->rec[0], r->len[0], 2, NULL, NULL), CORDON_ERR_EXISTS);
        }
    }
    /* 64 others retired since: 7 has left the window and opens a new reassembly. */
    push_pending(rx, r->rec[0], r->len[0], 3);
    assert_int_equal(cordon_frag_rx_inflight(rx), 1);
    push_done(rx, r->rec[1], r->len[1], 3, msg, len);
    assert_int_equal(counters(rx)->reassembled, CORDON_FRAG_RETIRED_MAX + 2);
    cordon_frag_rx_free(rx);
    free(r);
    free(msg);
}

/* ---- the sending side ------------------------------------------------------------------ */

static void test_encode_canary(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t len = sizes[k];
        uint8_t *msg = message(len, (unsigned)k);
        struct recs *r = split(msg, len, 3);
        for (size_t i = 0; i < r->n; i++) {
            uint8_t out[CORDON_RECORD_MAX + 32];
            /* Exactly enough room. */
            memset(out, CANARY, sizeof(out));
            size_t n = 777;
            assert_int_equal(cordon_frag_encode(msg, len, 3, i, out, r->len[i], &n), CORDON_OK);
            assert_int_equal(n, r->len[i]);
            assert_memory_equal(out, r->rec[i], n);
            for (size_t j = n; j < sizeof(out); j++)
                assert_int_equal(out[j], CANARY);
            /* One byte too few: refused, nothing past the cap, *out_len untouched. */
            memset(out, CANARY, sizeof(out));
            n = 777;
            assert_int_equal(cordon_frag_encode(msg, len, 3, i, out, r->len[i] - 1, &n),
                             CORDON_ERR_TOO_LARGE);
            assert_int_equal(n, 777);
            for (size_t j = r->len[i] - 1; j < sizeof(out); j++)
                assert_int_equal(out[j], CANARY);
        }
        free(r);
        free(msg);
    }
}

struct failing_emit {
    size_t calls;
    size_t fail_at;
};

static cordon_err fail_emit(void *ctx, const uint8_t *rec, size_t len)
{
    struct failing_emit *f = ctx;
    (void)rec;
    assert_true(len <= CORDON_RECORD_MAX);
    return f->calls++ == f->fail_at ? CORDON_ERR_IO : CORDON_OK;
}

static void test_split_errors(void **state)
{
    (void)state;
    uint8_t *msg = message(CORDON_FRAG_MSG_MAX + 1, 1);
    uint8_t out[CORDON_RECORD_MAX];
    size_t n = 5;
    struct failing_emit f = {0, 1};
    assert_int_equal(cordon_frag_split(msg, 5000, 1, fail_emit, &f), CORDON_ERR_IO);
    assert_int_equal(f.calls, 2);
    f.calls = 0;
    f.fail_at = 99;
    assert_int_equal(cordon_frag_split(msg, CORDON_FRAG_MSG_MAX + 1, 1, fail_emit, &f),
                     CORDON_ERR_TOO_LARGE);
    assert_int_equal(f.calls, 0);
    assert_int_equal(cordon_frag_split(msg, 10, 1, NULL, &f), CORDON_ERR_INVAL);
    assert_int_equal(cordon_frag_split(NULL, 10, 1, fail_emit, &f), CORDON_ERR_INVAL);
    assert_int_equal(cordon_frag_split(NULL, 0, 1, fail_emit, &f), CORDON_OK);
    assert_int_equal(f.calls, 1);

    assert_int_equal(cordon_frag_encode(msg, CORDON_FRAG_MSG_MAX + 1, 1, 0, out, sizeof(out), &n),
                     CORDON_ERR_TOO_LARGE);
    assert_int_equal(cordon_frag_encode(msg, 5000, 1, 5, out, sizeof(out), &n), CORDON_ERR_INVAL);
    assert_int_equal(cordon_frag_encode(msg, 10, 1, 1, out, sizeof(out), &n), CORDON_ERR_INVAL);
    assert_int_equal(cordon_frag_encode(NULL, 10, 1, 0, out, sizeof(out), &n), CORDON_ERR_INVAL);
    assert_int_equal(cordon_frag_encode(msg, 10, 1, 0, NULL, sizeof(out), &n), CORDON_ERR_INVAL);
    assert_int_equal(cordon_frag_encode(msg, 10, 1, 0, out, sizeof(out), NULL), CORDON_ERR_INVAL);
    assert_int_equal(n, 5);
    free(msg);
}

static void test_rx_args(void **state)
{
    (void)state;
    assert_int_equal(cordon_frag_rx_new(NULL, NULL), CORDON_ERR_INVAL);
    struct cordon_frag_rx *rx = rx_new(NULL);
    const uint8_t *m;
    size_t n;
    uint8_t rec[2] = {1, 2};
    assert_int_equal(cordon_frag_rx_push(NULL, rec, 2, 0, &m, &n), CORDON_ERR_INVAL);
    assert_int_equal(cordon_frag_rx_push(rx, NULL, 2, 0, &m, &n), CORDON_ERR_INVAL);
    assert_int_equal(cordon_frag_rx_push(rx, rec, 2, 0, NULL, &n), CORDON_ERR_INVAL);
    assert_int_equal(cordon_frag_rx_push(rx, rec, 2, 0, &m, NULL), CORDON_ERR_INVAL);
    assert_int_equal(counters(rx)->records, 0);
    assert_int_equal(cordon_frag_rx_push(rx, NULL, 0, 0, &m, &n), CORDON_ERR_TRUNCATED);
    assert_int_equal(counters(rx)->drop_truncated, 1);
    /* A WHOLE message is borrowed from the record itself. */
    assert_int_equal(cordon_frag_rx_push(rx, rec, 2, 0, &m, &n), CORDON_OK);
    assert_ptr_equal(m, rec + 1);
    assert_int_equal(n, 1);
    cordon_frag_rx_free(rx);
    cordon_frag_rx_free(NULL);
    cordon_frag_rx_expire(NULL, 0);
    assert_int_equal(cordon_frag_rx_memory(NULL), 0);
    assert_int_equal(cordon_frag_rx_inflight(NULL), 0);
    assert_int_equal(cordon_frag_rx_deadline(NULL), UINT64_MAX);
    assert_true(cordon_frag_rx_memory_max() < CORDON_FRAG_BUFFERED_MAX + 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_round_trip_sizes),
        cmocka_unit_test(test_out_of_order_and_duplicates),
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_truncation_sweep),
        cmocka_unit_test(test_bit_flip_sweep),
        cmocka_unit_test(test_lying_fields),
        cmocka_unit_test(test_oversize_refused_before_allocation),
        cmocka_unit_test(test_inflight_cap_evicts_oldest),
        cmocka_unit_test(test_bytes_cap),
        cmocka_unit_test(test_shared_budget),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_encode_canary),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_rx_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
