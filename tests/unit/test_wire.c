/*
 * tests/unit/test_wire.c — the bounded reader and writer (wire/reader.h, wire/writer.h).
 *
 * Reader: every read is all-or-nothing — after a failed read the cursor has not moved and
 * the output is untouched, proved for each read at every shortfall (as s2n proves it for
 * s2n_stuffer_read_uint16); integers are big-endian; a sub-reader's declared length is
 * checked against its cap (CORDON_ERR_TOO_LARGE) and against what is left
 * (CORDON_ERR_TRUNCATED) before anything moves; text refuses NUL and overlong input;
 * cordon_reader_end() refuses trailing bytes.
 *
 * Writer: big-endian output, the first overflow poisons the writer for good, a length that
 * does not fit its prefix poisons it, cordon_writer_finish() reports CORDON_ERR_TOO_LARGE,
 * and canaries around the output buffer (curl unit1655 style) prove that no write ever
 * lands past the capacity, for every capacity from 0 to the message length.
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

#include "common/error.h"
#include "wire/reader.h"
#include "wire/writer.h"

#define CANARY 0xA5
#define GUARD 16

static const uint8_t SAMPLE[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

/* ---- reader: values ------------------------------------------------------------------- */

static void test_reader_big_endian(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x81, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01,
                                 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xff};
    cordon_reader r;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    cordon_reader_init(&r, in, sizeof(in));
    assert_int_equal(cordon_reader_left(&r), sizeof(in));
    assert_int_equal(cordon_read_u8(&r, &u8), CORDON_OK);
    assert_int_equal(u8, 0x81);
    assert_int_equal(cordon_read_u16(&r, &u16), CORDON_OK);
    assert_int_equal(u16, 0x1234);
    assert_int_equal(cordon_read_u32(&r, &u32), CORDON_OK);
    assert_int_equal(u32, 0xdeadbeefU);
    assert_int_equal(cordon_read_u64(&r, &u64), CORDON_OK);
    assert_true(u64 == UINT64_C(0x0123456789abcdef));
    assert_int_equal(cordon_reader_left(&r), 1);
    assert_int_equal(cordon_reader_end(&r), CORDON_ERR_TRAILING);
    assert_int_equal(cordon_read_u8(&r, &u8), CORDON_OK);
    assert_int_equal(u8, 0xff);
    assert_int_equal(cordon_reader_left(&r), 0);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
}

static void test_reader_extremes(void **state)
{
    (void)state;
    static const uint8_t ones[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t zeros[8] = {0};
    cordon_reader r;
    uint64_t u64;
    uint32_t u32;
    cordon_reader_init(&r, ones, sizeof(ones));
    assert_int_equal(cordon_read_u64(&r, &u64), CORDON_OK);
    assert_true(u64 == UINT64_MAX);
    cordon_reader_init(&r, zeros, sizeof(zeros));
    u64 = 77;
    assert_int_equal(cordon_read_u64(&r, &u64), CORDON_OK);
    assert_true(u64 == 0);
    cordon_reader_init(&r, ones, 4);
    assert_int_equal(cordon_read_u32(&r, &u32), CORDON_OK);
    assert_int_equal(u32, UINT32_MAX);
}

static void test_reader_bytes_and_view(void **state)
{
    (void)state;
    cordon_reader r;
    uint8_t out[4];
    const uint8_t *view = NULL;
    cordon_reader_init(&r, SAMPLE, sizeof(SAMPLE));
    assert_int_equal(cordon_read_bytes(&r, out, 4), CORDON_OK);
    assert_memory_equal(out, SAMPLE, 4);
    assert_int_equal(cordon_read_view(&r, 4, &view), CORDON_OK);
    assert_ptr_equal(view, SAMPLE + 4); /* borrowed in place, not copied */
    /* Zero-length reads succeed anywhere, even at the very end, and move nothing. */
    assert_int_equal(cordon_read_bytes(&r, NULL, 0), CORDON_OK);
    assert_int_equal(cordon_read_view(&r, 0, &view), CORDON_OK);
    assert_int_equal(cordon_reader_left(&r), 8);
    assert_int_equal(cordon_read_view(&r, 8, &view), CORDON_OK);
    assert_int_equal(cordon_read_bytes(&r, out, 0), CORDON_OK);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
}

static void test_reader_null_input(void **state)
{
    (void)state;
    cordon_reader r;
    uint8_t u8 = 9;
    /* NULL data is an empty input, whatever length is claimed. */
    cordon_reader_init(&r, NULL, 100);
    assert_int_equal(cordon_reader_left(&r), 0);
    assert_int_equal(cordon_read_u8(&r, &u8), CORDON_ERR_TRUNCATED);
    assert_int_equal(u8, 9);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
}

/* ---- reader: all-or-nothing ------------------------------------------------------------- */

enum read_kind { K_U8, K_U16, K_U32, K_U64, K_BYTES, K_VIEW, K_SUB, K_TEXT };

/* Bytes each read needs when it reads a fixed field of `field` bytes (the sub and text
 * reads: a 2-byte prefix announcing `field` bytes). */
static size_t need_of(enum read_kind k, size_t field)
{
    switch (k) {
    case K_U8:
        return 1;
    case K_U16:
        return 2;
    case K_U32:
        return 4;
    case K_U64:
        return 8;
    case K_BYTES:
    case K_VIEW:
        return field;
    case K_SUB:
    case K_TEXT:
        return 2 + field;
    }
    return 0;
}

/* Runs one read of kind k on r. Every output starts filled with canaries; on failure the
 * caller checks they are still there. */
struct outputs {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    uint8_t bytes[32];
    const uint8_t *view;
    cordon_reader sub;
    char text[32];
};

static void outputs_fill(struct outputs *o)
{
    memset(o, CANARY, sizeof(*o));
}

static bool outputs_untouched(const struct outputs *o)
{
    struct outputs ref;
    outputs_fill(&ref);
    return memcmp(o, &ref, sizeof(ref)) == 0;
}

static cordon_err do_read(enum read_kind k, cordon_reader *r, size_t field, struct outputs *o)
{
    switch (k) {
    case K_U8:
        return cordon_read_u8(r, &o->u8);
    case K_U16:
        return cordon_read_u16(r, &o->u16);
    case K_U32:
        return cordon_read_u32(r, &o->u32);
    case K_U64:
        return cordon_read_u64(r, &o->u64);
    case K_BYTES:
        return cordon_read_bytes(r, o->bytes, field);
    case K_VIEW:
        return cordon_read_view(r, field, &o->view);
    case K_SUB:
        return cordon_read_sub(r, 2, 1000, &o->sub);
    case K_TEXT:
        return cordon_read_text(r, 2, o->text, sizeof(o->text));
    }
    return CORDON_ERR_INVAL;
}

/* For every read kind, every offset the cursor may start at and every shortfall: the read
 * fails with CORDON_ERR_TRUNCATED, the cursor stays, the outputs stay, and the bytes that
 * were there can still be read afterwards. */
static void test_reader_all_or_nothing(void **state)
{
    (void)state;
    static const enum read_kind kinds[] = {K_U8,    K_U16,  K_U32, K_U64,
                                           K_BYTES, K_VIEW, K_SUB, K_TEXT};
    const size_t field = 5;
    uint8_t buf[64];
    for (size_t ki = 0; ki < sizeof(kinds) / sizeof(kinds[0]); ki++) {
        enum read_kind k = kinds[ki];
        size_t need = need_of(k, field);
        for (size_t start = 0; start < 4; start++) {
            for (size_t have = 0; have < need; have++) {
                /* start bytes already consumed, then `have` bytes of the field. */
                memset(buf, 'x', sizeof(buf));
                if (k == K_SUB || k == K_TEXT) {
                    buf[start] = 0;
                    buf[start + 1] = (uint8_t)field;
                }
                cordon_reader r;
                cordon_reader_init(&r, buf, start + have);
                for (size_t i = 0; i < start; i++) {
                    uint8_t skip;
                    assert_int_equal(cordon_read_u8(&r, &skip), CORDON_OK);
                }
                struct outputs o;
                outputs_fill(&o);
                assert_int_equal(do_read(k, &r, field, &o), CORDON_ERR_TRUNCATED);
                assert_int_equal(r.pos, start);
                assert_int_equal(cordon_reader_left(&r), have);
                assert_true(outputs_untouched(&o));
                /* What is left is still whole: byte by byte it reads back. */
                for (size_t i = 0; i < have; i++) {
                    uint8_t b;
                    assert_int_equal(cordon_read_u8(&r, &b), CORDON_OK);
                    assert_int_equal(b, buf[start + i]);
                }
                assert_int_equal(cordon_reader_end(&r), CORDON_OK);
            }
            /* With exactly enough bytes the same read succeeds and consumes them all. */
            memset(buf, 'x', sizeof(buf));
            if (k == K_SUB || k == K_TEXT) {
                buf[start] = 0;
                buf[start + 1] = (uint8_t)field;
            }
            cordon_reader r;
            cordon_reader_init(&r, buf, start + need);
            r.pos = start;
            struct outputs o;
            outputs_fill(&o);
            assert_int_equal(do_read(k, &r, field, &o), CORDON_OK);
            assert_int_equal(cordon_reader_end(&r), CORDON_OK);
        }
    }
}

/* The s2n case by name: one byte left, a u16 read fails, the byte is still there. */
static void test_reader_u16_one_byte_left(void **state)
{
    (void)state;
    static const uint8_t in[] = {0xab, 0xcd, 0xef};
    cordon_reader r;
    uint16_t v = 0x5a5a;
    uint8_t b;
    cordon_reader_init(&r, in, sizeof(in));
    assert_int_equal(cordon_read_u16(&r, &v), CORDON_OK);
    assert_int_equal(v, 0xabcd);
    v = 0x5a5a;
    assert_int_equal(cordon_read_u16(&r, &v), CORDON_ERR_TRUNCATED);
    assert_int_equal(v, 0x5a5a);
    assert_int_equal(r.pos, 2);
    assert_int_equal(cordon_read_u8(&r, &b), CORDON_OK);
    assert_int_equal(b, 0xef);
}

/* ---- reader: sub-readers ------------------------------------------------------------------ */

static void test_reader_sub_ok(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x00, 0x03, 'a', 'b', 'c', 0x7f};
    cordon_reader r, sub;
    uint8_t b;
    uint16_t u16;
    cordon_reader_init(&r, in, sizeof(in));
    assert_int_equal(cordon_read_sub(&r, 2, 3, &sub), CORDON_OK); /* length == max is fine */
    assert_int_equal(cordon_reader_left(&sub), 3);
    assert_ptr_equal(sub.data, in + 2);
    assert_int_equal(r.pos, 5);
    /* The sub-reader is bounded by its own length, not the parent's. */
    assert_int_equal(cordon_read_u16(&sub, &u16), CORDON_OK);
    assert_int_equal(u16, ('a' << 8) | 'b');
    assert_int_equal(cordon_read_u16(&sub, &u16), CORDON_ERR_TRUNCATED);
    assert_int_equal(cordon_reader_end(&sub), CORDON_ERR_TRAILING);
    assert_int_equal(cordon_read_u8(&sub, &b), CORDON_OK);
    assert_int_equal(cordon_reader_end(&sub), CORDON_OK);
    assert_int_equal(cordon_read_u8(&sub, &b), CORDON_ERR_TRUNCATED);
    /* The parent carries on after the sub-field. */
    assert_int_equal(cordon_read_u8(&r, &b), CORDON_OK);
    assert_int_equal(b, 0x7f);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
}

static void test_reader_sub_prefix_sizes(void **state)
{
    (void)state;
    static const uint8_t one[] = {2, 'h', 'i'};
    static const uint8_t two[] = {0, 2, 'h', 'i'};
    static const uint8_t four[] = {0, 0, 0, 2, 'h', 'i'};
    static const uint8_t empty[] = {0, 0, 0, 0};
    cordon_reader r, sub;
    cordon_reader_init(&r, one, sizeof(one));
    assert_int_equal(cordon_read_sub(&r, 1, 10, &sub), CORDON_OK);
    assert_int_equal(sub.len, 2);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
    cordon_reader_init(&r, two, sizeof(two));
    assert_int_equal(cordon_read_sub(&r, 2, 10, &sub), CORDON_OK);
    assert_int_equal(sub.len, 2);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
    cordon_reader_init(&r, four, sizeof(four));
    assert_int_equal(cordon_read_sub(&r, 4, 10, &sub), CORDON_OK);
    assert_int_equal(sub.len, 2);
    assert_memory_equal(sub.data, "hi", 2);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
    cordon_reader_init(&r, empty, sizeof(empty));
    assert_int_equal(cordon_read_sub(&r, 4, 0, &sub), CORDON_OK);
    assert_int_equal(sub.len, 0);
    assert_int_equal(cordon_reader_end(&sub), CORDON_OK);
}

static void test_reader_sub_refusals(void **state)
{
    (void)state;
    static const uint8_t in[] = {0xee, 0x00, 0x05, 'a', 'b', 'c', 'd'};
    cordon_reader r, sub;
    uint8_t b;
    cordon_reader_init(&r, in, sizeof(in));
    assert_int_equal(cordon_read_u8(&r, &b), CORDON_OK);
    memset(&sub, CANARY, sizeof(sub));
    cordon_reader ref = sub;

    /* Length over the cap: CORDON_ERR_TOO_LARGE, even though it is also over what is left
     * (the cap is checked first: it is the cheaper, more specific answer). */
    assert_int_equal(cordon_read_sub(&r, 2, 4, &sub), CORDON_ERR_TOO_LARGE);
    assert_int_equal(r.pos, 1);
    assert_memory_equal(&sub, &ref, sizeof(sub));

    /* Within the cap but over what is left: CORDON_ERR_TRUNCATED. */
    assert_int_equal(cordon_read_sub(&r, 2, 100, &sub), CORDON_ERR_TRUNCATED);
    assert_int_equal(r.pos, 1);
    assert_memory_equal(&sub, &ref, sizeof(sub));

    /* The prefix itself cut short. */
    cordon_reader tail;
    cordon_reader_init(&tail, in + 1, 1);
    assert_int_equal(cordon_read_sub(&tail, 2, 100, &sub), CORDON_ERR_TRUNCATED);
    assert_int_equal(tail.pos, 0);
    assert_memory_equal(&sub, &ref, sizeof(sub));

    /* Prefix sizes other than 1, 2 and 4 are the caller's mistake. */
    static const unsigned bad[] = {0, 3, 5, 8};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cordon_read_sub(&r, bad[i], 100, &sub), CORDON_ERR_INVAL);
        assert_int_equal(r.pos, 1);
        assert_memory_equal(&sub, &ref, sizeof(sub));
    }

    /* A four-byte prefix near 2^32 with an unlimited cap: truncated, nothing moves. */
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    cordon_reader h;
    cordon_reader_init(&h, huge, sizeof(huge));
    assert_int_equal(cordon_read_sub(&h, 4, SIZE_MAX, &sub), CORDON_ERR_TRUNCATED);
    assert_int_equal(h.pos, 0);
    assert_int_equal(cordon_read_sub(&h, 4, 0xfffffffe, &sub), CORDON_ERR_TOO_LARGE);
    assert_int_equal(h.pos, 0);

    /* And the reader still works afterwards. */
    assert_int_equal(cordon_read_sub(&r, 2, 5, &sub), CORDON_ERR_TRUNCATED); /* 5 > 4 left */
    assert_int_equal(cordon_read_u16(&r, &(uint16_t){0}), CORDON_OK);
    assert_int_equal(cordon_reader_left(&r), 4);
}

/* ---- reader: text ------------------------------------------------------------------------ */

static void test_reader_text(void **state)
{
    (void)state;
    char out[8];
    cordon_reader r;

    static const uint8_t ok[] = {3, 'a', 'b', 'c'};
    cordon_reader_init(&r, ok, sizeof(ok));
    assert_int_equal(cordon_read_text(&r, 1, out, sizeof(out)), CORDON_OK);
    assert_string_equal(out, "abc");
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);

    static const uint8_t empty[] = {0};
    cordon_reader_init(&r, empty, sizeof(empty));
    memset(out, CANARY, sizeof(out));
    assert_int_equal(cordon_read_text(&r, 1, out, sizeof(out)), CORDON_OK);
    assert_string_equal(out, "");

    /* Exactly outlen - 1 characters fit; one more is too large. */
    static const uint8_t seven[] = {7, '1', '2', '3', '4', '5', '6', '7'};
    cordon_reader_init(&r, seven, sizeof(seven));
    assert_int_equal(cordon_read_text(&r, 1, out, sizeof(out)), CORDON_OK);
    assert_string_equal(out, "1234567");

    static const uint8_t eight[] = {8, '1', '2', '3', '4', '5', '6', '7', '8'};
    cordon_reader_init(&r, eight, sizeof(eight));
    memset(out, CANARY, sizeof(out));
    assert_int_equal(cordon_read_text(&r, 1, out, sizeof(out)), CORDON_ERR_TOO_LARGE);
    assert_int_equal(r.pos, 0);
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal((uint8_t)out[i], CANARY);

    /* An embedded NUL, anywhere, is malformed; nothing moves and nothing is written. */
    for (size_t at = 0; at < 3; at++) {
        uint8_t nul[] = {0, 3, 'a', 'b', 'c', 'z'};
        nul[2 + at] = 0;
        cordon_reader_init(&r, nul, sizeof(nul));
        memset(out, CANARY, sizeof(out));
        assert_int_equal(cordon_read_text(&r, 2, out, sizeof(out)), CORDON_ERR_MALFORMED);
        assert_int_equal(r.pos, 0);
        for (size_t i = 0; i < sizeof(out); i++)
            assert_int_equal((uint8_t)out[i], CANARY);
    }

    /* Truncated text. */
    static const uint8_t cut[] = {5, 'a', 'b'};
    cordon_reader_init(&r, cut, sizeof(cut));
    memset(out, CANARY, sizeof(out));
    assert_int_equal(cordon_read_text(&r, 1, out, sizeof(out)), CORDON_ERR_TRUNCATED);
    assert_int_equal(r.pos, 0);
    assert_int_equal((uint8_t)out[0], CANARY);

    /* No room even for the NUL. */
    cordon_reader_init(&r, empty, sizeof(empty));
    assert_int_equal(cordon_read_text(&r, 1, out, 0), CORDON_ERR_INVAL);
    assert_int_equal(r.pos, 0);
    /* Bad prefix size. */
    cordon_reader_init(&r, ok, sizeof(ok));
    assert_int_equal(cordon_read_text(&r, 3, out, sizeof(out)), CORDON_ERR_INVAL);
    assert_int_equal(r.pos, 0);
}

static void test_reader_end(void **state)
{
    (void)state;
    cordon_reader r;
    uint8_t b;
    cordon_reader_init(&r, SAMPLE, 2);
    assert_int_equal(cordon_reader_end(&r), CORDON_ERR_TRAILING);
    assert_int_equal(cordon_read_u8(&r, &b), CORDON_OK);
    assert_int_equal(cordon_reader_end(&r), CORDON_ERR_TRAILING);
    assert_int_equal(cordon_read_u8(&r, &b), CORDON_OK);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
    cordon_reader_init(&r, SAMPLE, 0);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
}

/* A small length-prefixed structure decoded the way every codec does it; every prefix of
 * the encoding must be refused as truncated, never accepted or over-read. */
static cordon_err decode_sample(const uint8_t *p, size_t n, uint32_t *id, char *name, size_t cap)
{
    cordon_reader r, list;
    uint16_t item;
    cordon_reader_init(&r, p, n);
    cordon_err err = cordon_read_u32(&r, id);
    if (err == CORDON_OK)
        err = cordon_read_text(&r, 1, name, cap);
    if (err == CORDON_OK)
        err = cordon_read_sub(&r, 2, 64, &list);
    while (err == CORDON_OK && cordon_reader_left(&list) > 0)
        err = cordon_read_u16(&list, &item);
    if (err == CORDON_OK)
        err = cordon_reader_end(&r);
    return err;
}

static void test_reader_truncation_sweep(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0, 0, 1, 0, 4, 'n', 'o', 'd', 'e', 0, 6, 0, 1, 0, 2, 0, 3};
    uint32_t id;
    char name[16];
    assert_int_equal(decode_sample(msg, sizeof(msg), &id, name, sizeof(name)), CORDON_OK);
    assert_int_equal(id, 256);
    assert_string_equal(name, "node");
    for (size_t n = 0; n < sizeof(msg); n++) {
        /* An exact-size heap copy, so that a read past n is an ASan report. */
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, msg, n);
        assert_int_equal(decode_sample(copy, n, &id, name, sizeof(name)), CORDON_ERR_TRUNCATED);
        free(copy);
    }
    uint8_t longer[sizeof(msg) + 1];
    memcpy(longer, msg, sizeof(msg));
    longer[sizeof(msg)] = 0;
    assert_int_equal(decode_sample(longer, sizeof(longer), &id, name, sizeof(name)),
                     CORDON_ERR_TRAILING);
}

/* ---- writer ----------------------------------------------------------------------------- */

static void test_writer_big_endian(void **state)
{
    (void)state;
    uint8_t buf[32];
    size_t len = 0;
    cordon_writer w;
    cordon_writer_init(&w, buf, sizeof(buf));
    cordon_write_u8(&w, 0x81);
    cordon_write_u16(&w, 0x1234);
    cordon_write_u32(&w, 0xdeadbeef);
    cordon_write_u64(&w, UINT64_C(0x0123456789abcdef));
    cordon_write_bytes(&w, "xy", 2);
    cordon_write_bytes(&w, NULL, 0);
    assert_int_equal(cordon_writer_finish(&w, &len), CORDON_OK);
    static const uint8_t want[] = {0x81, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x23,
                                   0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 'x',  'y'};
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(cordon_writer_finish(&w, NULL), CORDON_OK);

    /* And the reader reads back what the writer wrote. */
    cordon_reader r;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    cordon_reader_init(&r, buf, len);
    assert_int_equal(cordon_read_u8(&r, &u8), CORDON_OK);
    assert_int_equal(cordon_read_u16(&r, &u16), CORDON_OK);
    assert_int_equal(cordon_read_u32(&r, &u32), CORDON_OK);
    assert_int_equal(cordon_read_u64(&r, &u64), CORDON_OK);
    assert_int_equal(u8, 0x81);
    assert_int_equal(u16, 0x1234);
    assert_int_equal(u32, 0xdeadbeef);
    assert_true(u64 == UINT64_C(0x0123456789abcdef));
}

static void test_writer_prefixed(void **state)
{
    (void)state;
    uint8_t buf[16];
    size_t len;
    cordon_writer w;
    cordon_writer_init(&w, buf, sizeof(buf));
    cordon_write_prefixed(&w, 1, "ab", 2);
    cordon_write_prefixed(&w, 2, "cd", 2);
    cordon_write_prefixed(&w, 4, "e", 1);
    cordon_write_prefixed(&w, 2, NULL, 0);
    assert_int_equal(cordon_writer_finish(&w, &len), CORDON_OK);
    static const uint8_t want[] = {2, 'a', 'b', 0, 2, 'c', 'd', 0, 0, 0, 1, 'e', 0, 0};
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));

    cordon_reader r, sub;
    cordon_reader_init(&r, buf, len);
    assert_int_equal(cordon_read_sub(&r, 1, 2, &sub), CORDON_OK);
    assert_int_equal(cordon_read_sub(&r, 2, 2, &sub), CORDON_OK);
    assert_int_equal(cordon_read_sub(&r, 4, 1, &sub), CORDON_OK);
    assert_int_equal(cordon_read_sub(&r, 2, 0, &sub), CORDON_OK);
    assert_int_equal(cordon_reader_end(&r), CORDON_OK);
}

/* A length that does not fit a 1- or 2-byte prefix poisons the writer and writes nothing;
 * the largest length that fits is fine. */
static void test_writer_prefix_too_long(void **state)
{
    (void)state;
    size_t cap = 70000;
    uint8_t *src = calloc(1, cap);
    uint8_t *dst = malloc(cap + 8);
    assert_non_null(src);
    assert_non_null(dst);
    cordon_writer w;
    size_t len = 12345;

    cordon_writer_init(&w, dst, cap + 8);
    cordon_write_prefixed(&w, 1, src, 255);
    assert_int_equal(cordon_writer_finish(&w, &len), CORDON_OK);
    assert_int_equal(len, 256);
    assert_int_equal(dst[0], 255);

    cordon_writer_init(&w, dst, cap + 8);
    cordon_write_prefixed(&w, 1, src, 256);
    assert_int_equal(w.len, 0);
    len = 12345;
    assert_int_equal(cordon_writer_finish(&w, &len), CORDON_ERR_TOO_LARGE);
    assert_int_equal(len, 12345); /* not written on failure */
    cordon_write_u8(&w, 1);       /* poisoned: even a byte that fits is refused */
    assert_int_equal(w.len, 0);
    assert_int_equal(cordon_writer_finish(&w, NULL), CORDON_ERR_TOO_LARGE);

    cordon_writer_init(&w, dst, cap + 8);
    cordon_write_prefixed(&w, 2, src, 65535);
    assert_int_equal(cordon_writer_finish(&w, &len), CORDON_OK);
    assert_int_equal(len, 65537);
    assert_int_equal(dst[0], 0xff);
    assert_int_equal(dst[1], 0xff);

    cordon_writer_init(&w, dst, cap + 8);
    cordon_write_prefixed(&w, 2, src, 65536);
    assert_int_equal(w.len, 0);
    assert_int_equal(cordon_writer_finish(&w, NULL), CORDON_ERR_TOO_LARGE);

    cordon_writer_init(&w, dst, cap + 8);
    cordon_write_prefixed(&w, 4, src, 65536);
    assert_int_equal(cordon_writer_finish(&w, &len), CORDON_OK);
    assert_int_equal(len, 65540);

    /* Prefix sizes other than 1, 2, 4. */
    static const unsigned bad[] = {0, 3, 8};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cordon_writer_init(&w, dst, cap + 8);
        cordon_write_prefixed(&w, bad[i], src, 1);
        assert_int_equal(w.len, 0);
        assert_int_equal(cordon_writer_finish(&w, NULL), CORDON_ERR_TOO_LARGE);
    }
    free(src);
    free(dst);
}

static void test_writer_poisoned(void **state)
{
    (void)state;
    uint8_t buf[3];
    cordon_writer w;
    size_t len = 99;
    cordon_writer_init(&w, buf, sizeof(buf));
    cordon_write_u16(&w, 0x0102);
    cordon_write_u16(&w, 0x0304); /* one byte short: fails, writes nothing */
    assert_int_equal(w.len, 2);
    cordon_write_u8(&w, 0x05); /* would fit, but the writer is poisoned */
    cordon_write_bytes(&w, "", 0);
    assert_int_equal(w.len, 2);
    assert_int_equal(cordon_writer_finish(&w, &len), CORDON_ERR_TOO_LARGE);
    assert_int_equal(len, 99);

    /* Each kind of write on a full writer poisons it. */
    for (int kind = 0; kind < 6; kind++) {
        cordon_writer_init(&w, buf, 0);
        switch (kind) {
        case 0:
            cordon_write_u8(&w, 1);
            break;
        case 1:
            cordon_write_u16(&w, 1);
            break;
        case 2:
            cordon_write_u32(&w, 1);
            break;
        case 3:
            cordon_write_u64(&w, 1);
            break;
        case 4:
            cordon_write_bytes(&w, "a", 1);
            break;
        default:
            cordon_write_prefixed(&w, 1, "", 0);
            break;
        }
        assert_int_equal(cordon_writer_finish(&w, NULL), CORDON_ERR_TOO_LARGE);
    }

    /* NULL storage is a writer of capacity 0 whatever cap says. */
    cordon_writer_init(&w, NULL, 100);
    cordon_write_bytes(&w, NULL, 0);
    assert_int_equal(cordon_writer_finish(&w, &len), CORDON_OK);
    assert_int_equal(len, 0);
    cordon_write_u8(&w, 1);
    assert_int_equal(cordon_writer_finish(&w, NULL), CORDON_ERR_TOO_LARGE);
}

/* curl unit1655 style: the output buffer sits between two guard zones full of canaries.
 * For every capacity from 0 to past the message length, write a whole message: either it
 * fits and the bytes are exactly the message, or finish reports CORDON_ERR_TOO_LARGE; in
 * both cases nothing past the capacity (nor before the buffer) was touched. */
static void write_message(cordon_writer *w)
{
    cordon_write_u8(w, 0x11);
    cordon_write_u16(w, 0x2233);
    cordon_write_prefixed(w, 1, "hello", 5);
    cordon_write_u32(w, 0x44556677);
    cordon_write_bytes(w, "0123456789", 10);
    cordon_write_u64(w, UINT64_C(0x8899aabbccddeeff));
    cordon_write_prefixed(w, 2, "xyz", 3);
    cordon_write_prefixed(w, 4, "!", 1);
}

static void test_writer_canaries(void **state)
{
    (void)state;
    uint8_t ref[128];
    size_t full;
    cordon_writer w;
    cordon_writer_init(&w, ref, sizeof(ref));
    write_message(&w);
    assert_int_equal(cordon_writer_finish(&w, &full), CORDON_OK);
    assert_int_equal(full, 1 + 2 + 6 + 4 + 10 + 8 + 5 + 5);

    uint8_t mem[GUARD + 128 + GUARD];
    for (size_t cap = 0; cap <= full + 4; cap++) {
        memset(mem, CANARY, sizeof(mem));
        uint8_t *out = mem + GUARD;
        size_t len = 0;
        cordon_writer_init(&w, out, cap);
        write_message(&w);
        cordon_err err = cordon_writer_finish(&w, &len);
        if (cap >= full) {
            assert_int_equal(err, CORDON_OK);
            assert_int_equal(len, full);
            assert_memory_equal(out, ref, full);
        } else {
            assert_int_equal(err, CORDON_ERR_TOO_LARGE);
            assert_true(w.len <= cap);
            /* What was written before the failure is a prefix of the message. */
            assert_memory_equal(out, ref, w.len);
        }
        for (size_t i = 0; i < GUARD; i++)
            assert_int_equal(mem[i], CANARY);
        size_t used = cap >= full ? full : w.len;
        for (size_t i = GUARD + used; i < sizeof(mem); i++)
            assert_int_equal(mem[i], CANARY);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_big_endian),
        cmocka_unit_test(test_reader_extremes),
        cmocka_unit_test(test_reader_bytes_and_view),
        cmocka_unit_test(test_reader_null_input),
        cmocka_unit_test(test_reader_all_or_nothing),
        cmocka_unit_test(test_reader_u16_one_byte_left),
        cmocka_unit_test(test_reader_sub_ok),
        cmocka_unit_test(test_reader_sub_prefix_sizes),
        cmocka_unit_test(test_reader_sub_refusals),
        cmocka_unit_test(test_reader_text),
        cmocka_unit_test(test_reader_end),
        cmocka_unit_test(test_reader_truncation_sweep),
        cmocka_unit_test(test_writer_big_endian),
        cmocka_unit_test(test_writer_prefixed),
        cmocka_unit_test(test_writer_prefix_too_long),
        cmocka_unit_test(test_writer_poisoned),
        cmocka_unit_test(test_writer_canaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
