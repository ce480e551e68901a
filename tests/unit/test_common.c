/*
 * tests/unit/test_common.c — common/: the capped buffer (buf.h), hex (hex.h), constant-time
 * compare (mem.h), strict number and list parsing (parse.h), token buckets (ratelimit.h)
 * and the error table (error.h).
 *
 * Each test aims at the edges: exactly at a cap and one past it, a buffer poisoned after a
 * failure, outputs untouched on failure (canaries), junk around numbers, a table of rate
 * limits full of busy keys that a flood of new keys cannot reset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/hex.h"
#include "common/mem.h"
#include "common/parse.h"
#include "common/ratelimit.h"

#define CANARY 0xA5

/* ---- cordon_buf ------------------------------------------------------------------------ */

static void test_buf_cap(void **state)
{
    (void)state;
    cordon_buf b;
    cordon_buf_init(&b, 10, false);
    assert_int_equal(cordon_buf_append(&b, "0123456789", 10), CORDON_OK); /* exactly the cap */
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "0123456789", 10);
    assert_int_equal(cordon_buf_terminate(&b), CORDON_OK); /* the NUL is not counted */
    assert_int_equal(b.len, 10);
    assert_string_equal((char *)b.data, "0123456789");
    assert_int_equal(cordon_buf_append(&b, "x", 1), CORDON_ERR_TOO_LARGE);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "0123456789", 10);
    cordon_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    /* One big append over the cap fails at once and writes nothing. */
    cordon_buf_init(&b, 10, false);
    assert_int_equal(cordon_buf_append(&b, "abc", 3), CORDON_OK);
    assert_int_equal(cordon_buf_append(&b, "01234567", 8), CORDON_ERR_TOO_LARGE);
    assert_int_equal(b.len, 3);
    cordon_buf_free(&b);

    /* A cap of zero still allows an empty value and its terminator. */
    cordon_buf_init(&b, 0, false);
    assert_int_equal(cordon_buf_append(&b, NULL, 0), CORDON_OK);
    assert_int_equal(cordon_buf_terminate(&b), CORDON_OK);
    assert_string_equal((char *)b.data, "");
    assert_int_equal(cordon_buf_append(&b, "a", 1), CORDON_ERR_TOO_LARGE);
    cordon_buf_free(&b);
    cordon_buf_free(NULL);
}

static void test_buf_poisoned(void **state)
{
    (void)state;
    cordon_buf b;
    cordon_buf_init(&b, 4, false);
    assert_int_equal(cordon_buf_append(&b, "ab", 2), CORDON_OK);
    assert_int_equal(cordon_buf_append(&b, "cde", 3), CORDON_ERR_TOO_LARGE);
    assert_true(b.failed);
    /* Poisoned: even appends that would fit are refused, and so is terminate. */
    assert_int_equal(cordon_buf_append(&b, "c", 1), CORDON_ERR_TOO_LARGE);
    assert_int_equal(cordon_buf_append(&b, NULL, 0), CORDON_ERR_TOO_LARGE);
    assert_int_equal(cordon_buf_append_str(&b, ""), CORDON_ERR_TOO_LARGE);
    assert_int_equal(cordon_buf_printf(&b, "%s", ""), CORDON_ERR_TOO_LARGE);
    assert_int_equal(cordon_buf_terminate(&b), CORDON_ERR_TOO_LARGE);
    assert_int_equal(b.len, 2);
    /* reset clears the failure and the content, keeping the allocation. */
    uint8_t *keep = b.data;
    cordon_buf_reset(&b);
    assert_false(b.failed);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, keep);
    assert_int_equal(cordon_buf_append(&b, "wxyz", 4), CORDON_OK);
    cordon_buf_free(&b);
    /* free leaves it empty and usable. */
    assert_int_equal(cordon_buf_append(&b, "q", 1), CORDON_OK);
    assert_int_equal(b.len, 1);
    cordon_buf_free(&b);
}

static void test_buf_growth(void **state)
{
    (void)state;
    cordon_buf b;
    cordon_buf_init(&b, 100000, false);
    for (size_t i = 0; i < 100000; i++) {
        uint8_t c = (uint8_t)(i * 7);
        assert_int_equal(cordon_buf_append(&b, &c, 1), CORDON_OK);
    }
    assert_int_equal(b.len, 100000);
    assert_true(b.alloc <= 100001); /* never allocates beyond the cap + the NUL */
    for (size_t i = 0; i < 100000; i++)
        assert_int_equal(b.data[i], (uint8_t)(i * 7));
    assert_int_equal(cordon_buf_terminate(&b), CORDON_OK);
    assert_int_equal(cordon_buf_append(&b, "x", 1), CORDON_ERR_TOO_LARGE);
    cordon_buf_free(&b);
}

static void test_buf_printf(void **state)
{
    (void)state;
    cordon_buf b;
    cordon_buf_init(&b, 16, false);
    assert_int_equal(cordon_buf_printf(&b, "%s-%d", "ab", 42), CORDON_OK);
    assert_int_equal(b.len, 5);
    assert_string_equal((char *)b.data, "ab-42"); /* printf leaves it terminated */
    assert_int_equal(cordon_buf_append_str(&b, "+"), CORDON_OK);
    assert_int_equal(cordon_buf_printf(&b, "%010u", 7u), CORDON_OK); /* exactly 16 */
    assert_int_equal(b.len, 16);
    assert_int_equal(cordon_buf_terminate(&b), CORDON_OK);
    assert_string_equal((char *)b.data, "ab-42+0000000007");
    cordon_buf_free(&b);

    cordon_buf_init(&b, 8, false);
    assert_int_equal(cordon_buf_printf(&b, "%s", "abc"), CORDON_OK);
    assert_int_equal(cordon_buf_printf(&b, "%d", 123456), CORDON_ERR_TOO_LARGE);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    assert_true(b.failed);
    assert_int_equal(cordon_buf_printf(&b, "%s", "d"), CORDON_ERR_TOO_LARGE);
    cordon_buf_free(&b);

    cordon_buf_init(&b, 8, false);
    assert_int_equal(cordon_buf_printf(&b, "%s", ""), CORDON_OK);
    assert_int_equal(b.len, 0);
    cordon_buf_free(&b);
}

static void test_buf_take(void **state)
{
    (void)state;
    cordon_buf b;
    size_t len = 0;
    cordon_buf_init(&b, 64, false);
    assert_int_equal(cordon_buf_append_str(&b, "hello"), CORDON_OK);
    assert_int_equal(cordon_buf_terminate(&b), CORDON_OK);
    uint8_t *p = cordon_buf_take(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 5);
    assert_string_equal((char *)p, "hello");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.alloc, 0);
    /* The buffer is empty and usable again, with the same cap. */
    assert_int_equal(cordon_buf_append_str(&b, "again"), CORDON_OK);
    assert_int_equal(b.len, 5);
    assert_int_equal(b.max, 64);
    assert_ptr_not_equal(b.data, p);
    free(p);
    /* take without a length pointer, and on a poisoned buffer: the failure is cleared. */
    assert_int_equal(cordon_buf_append(&b, NULL, 100), CORDON_ERR_TOO_LARGE);
    p = cordon_buf_take(&b, NULL);
    assert_false(b.failed);
    free(p);
    cordon_buf_free(&b);
}

static void test_buf_secret_reset_wipes(void **state)
{
    (void)state;
    cordon_buf b;
    cordon_buf_init(&b, 64, true);
    assert_int_equal(cordon_buf_append_str(&b, "secret-token"), CORDON_OK);
    size_t alloc = b.alloc;
    cordon_buf_reset(&b);
    for (size_t i = 0; i < alloc; i++)
        assert_int_equal(b.data[i], 0);
    cordon_buf_free(&b);
}

/* A buffer without a practical cap (max = SIZE_MAX) must work like any other. Run in a
 * child so that a memory error is this test's failure, not the end of the program. */
static void buf_unbounded_child(void)
{
    static const char text[] = "more than a handful of bytes, to be sure";
    cordon_buf b;
    cordon_buf_init(&b, SIZE_MAX, false);
    if (cordon_buf_append(&b, text, sizeof(text) - 1) != CORDON_OK)
        _exit(2);
    if (b.alloc < b.len + 1 || memcmp(b.data, text, sizeof(text) - 1) != 0)
        _exit(3);
    if (cordon_buf_terminate(&b) != CORDON_OK || strcmp((char *)b.data, text) != 0)
        _exit(4);
    cordon_buf_free(&b);
    _exit(0);
}

static void test_buf_unbounded(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        buf_unbounded_child();
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- hex --------------------------------------------------------------------------------- */

static void test_hex_encode(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(in) + 1 + 4];
    memset(out, CANARY, sizeof(out));
    cordon_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    for (size_t i = 2 * sizeof(in) + 1; i < sizeof(out); i++)
        assert_int_equal((uint8_t)out[i], CANARY);
    cordon_hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

static void test_hex_decode(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_int_equal(cordon_hex_decode("00a0FfbC", 8, out, 4), CORDON_OK);
    static const uint8_t want[] = {0x00, 0xa0, 0xff, 0xbc};
    assert_memory_equal(out, want, 4);
    assert_int_equal(cordon_hex_decode("", 0, out, 0), CORDON_OK);

    /* Round trip over every byte value. */
    uint8_t all[256], back[256];
    char text[513];
    for (size_t i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    cordon_hex_encode(all, 256, text);
    assert_int_equal(cordon_hex_decode(text, 512, back, 256), CORDON_OK);
    assert_memory_equal(all, back, 256);
}

static void expect_hex_refused(const char *s, size_t slen, size_t n)
{
    uint8_t out[8];
    memset(out, CANARY, sizeof(out));
    assert_int_equal(cordon_hex_decode(s, slen, out, n), CORDON_ERR_MALFORMED);
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal(out[i], CANARY);
}

static void test_hex_refused(void **state)
{
    (void)state;
    /* Wrong lengths: odd, short, long. */
    expect_hex_refused("0011223", 7, 4);
    expect_hex_refused("001122", 6, 4);
    expect_hex_refused("0011223344", 10, 4);
    expect_hex_refused("00", 2, 0);
    /* A bad digit at each position, including the last: nothing is written, not even the
     * bytes decoded before it. */
    static const char bad[] = {'g', 'G', 'x', ' ', '-', '+', '\0', ':', '/', '@', '`', '\xff'};
    for (size_t b = 0; b < sizeof(bad); b++) {
        for (size_t at = 0; at < 8; at++) {
            char s[9] = "a1b2c3d4";
            s[at] = bad[b];
            expect_hex_refused(s, 8, 4);
        }
    }
}

/* ---- constant-time compare ------------------------------------------------------------------ */

static void test_ct_equal(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    for (size_t i = 0; i < 32; i++)
        a[i] = b[i] = (uint8_t)(i * 13 + 1);
    assert_true(cordon_ct_equal(a, b, 32));
    assert_true(cordon_ct_equal(a, b, 0));
    assert_true(cordon_ct_equal(NULL, NULL, 0));
    for (size_t i = 0; i < 32; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            assert_false(cordon_ct_equal(a, b, 32));
            assert_true(cordon_ct_equal(a, b, i)); /* the prefix before it still matches */
            b[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(cordon_ct_equal(a, b, 32));
}

/* ---- parse ---------------------------------------------------------------------------------- */

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cordon_parse_u64("0", 0, 10, &v), CORDON_OK);
    assert_true(v == 0);
    assert_int_equal(cordon_parse_u64("42", 0, 100, &v), CORDON_OK);
    assert_true(v == 42);
    assert_int_equal(cordon_parse_u64("007", 0, 100, &v), CORDON_OK);
    assert_true(v == 7);
    assert_int_equal(cordon_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), CORDON_OK);
    assert_true(v == UINT64_MAX);
    /* Bounds are inclusive. */
    assert_int_equal(cordon_parse_u64("5", 5, 9, &v), CORDON_OK);
    assert_int_equal(cordon_parse_u64("9", 5, 9, &v), CORDON_OK);

    static const char *const refused[] = {
        "",
        "-1",
        "+1",
        " 1",
        "1 ",
        "\t1",
        "1\n",
        "1a",
        "a1",
        "0x10",
        "1.5",
        "1e3",
        "1,0",
        "1_000",
        "--1",
        "\xd9\xa1",             /* Arabic-Indic one */
        "18446744073709551616", /* 2^64 */
        "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        v = 12345;
        assert_int_equal(cordon_parse_u64(refused[i], 0, UINT64_MAX, &v), CORDON_ERR_INVAL);
        assert_true(v == 12345); /* untouched */
    }
    v = 12345;
    assert_int_equal(cordon_parse_u64(NULL, 0, 10, &v), CORDON_ERR_INVAL);
    assert_int_equal(cordon_parse_u64("4", 5, 9, &v), CORDON_ERR_INVAL);
    assert_int_equal(cordon_parse_u64("10", 5, 9, &v), CORDON_ERR_INVAL);
    assert_true(v == 12345);
}

static void test_parse_double(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(cordon_parse_double("5", 0, 10, &v), CORDON_OK);
    assert_true(v == 5.0);
    assert_int_equal(cordon_parse_double("0.5", 0, 10, &v), CORDON_OK);
    assert_true(v == 0.5);
    assert_int_equal(cordon_parse_double(".25", 0, 10, &v), CORDON_OK);
    assert_true(v == 0.25);
    assert_int_equal(cordon_parse_double("0", 0, 10, &v), CORDON_OK);
    assert_true(v == 0.0);
    /* Bounds are inclusive. */
    assert_int_equal(cordon_parse_double("0.001", 0.001, 1e6, &v), CORDON_OK);
    assert_int_equal(cordon_parse_double("1000000", 0.001, 1e6, &v), CORDON_OK);

    static const char *const refused[] = {"",         "-1",    "+1",    " 1",  "1 ",  "\t1",
                                          "1x",       "1.2.3", ".",     "nan", "NaN", "inf",
                                          "infinity", "-0",    "1e999", "1,5"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        v = 123.0;
        assert_int_equal(cordon_parse_double(refused[i], 0, 1e300, &v), CORDON_ERR_INVAL);
        assert_true(v == 123.0);
    }
    v = 123.0;
    assert_int_equal(cordon_parse_double(NULL, 0, 10, &v), CORDON_ERR_INVAL);
    assert_int_equal(cordon_parse_double("0.0009", 0.001, 1e6, &v), CORDON_ERR_INVAL);
    assert_int_equal(cordon_parse_double("1000000.5", 0.001, 1e6, &v), CORDON_ERR_INVAL);
    assert_true(v == 123.0);
}

/* parse.h promises "a positive decimal number": strtod() also reads C99 hexadecimal
 * floating constants and exponents, which an operator typing a rate never means. */
static void test_parse_double_plain_decimal(void **state)
{
    (void)state;
    static const char *const refused[] = {"0x10", "0X1", "0x1p3", "0x.8",
                                          "1e3",  "1E3", "5e-1",  "1e+2"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        double v = 123.0;
        assert_int_equal(cordon_parse_double(refused[i], 0, 1e6, &v), CORDON_ERR_INVAL);
        assert_true(v == 123.0);
    }
    double v = 0;
    assert_int_equal(cordon_parse_double("5.", 0, 10, &v), CORDON_OK);
    assert_true(v == 5.0);
    assert_int_equal(cordon_parse_double("000.125", 0, 10, &v), CORDON_OK);
    assert_true(v == 0.125);
}

static void test_parse_list(void **state)
{
    (void)state;
    const char *items[4];
    size_t n = 0;
    char a[] = "alpha,beta,gamma";
    assert_int_equal(cordon_parse_list(a, items, 4, &n), CORDON_OK);
    assert_int_equal(n, 3);
    assert_string_equal(items[0], "alpha");
    assert_string_equal(items[1], "beta");
    assert_string_equal(items[2], "gamma");

    char one[] = "solo";
    assert_int_equal(cordon_parse_list(one, items, 1, &n), CORDON_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0], "solo");

    /* Exactly max items, then one more. */
    char four[] = "a,b,c,d";
    assert_int_equal(cordon_parse_list(four, items, 4, &n), CORDON_OK);
    assert_int_equal(n, 4);
    char five[] = "a,b,c,d,e";
    n = 99;
    assert_int_equal(cordon_parse_list(five, items, 4, &n), CORDON_ERR_TOO_LARGE);
    assert_int_equal(n, 99);
    char zero[] = "a";
    assert_int_equal(cordon_parse_list(zero, items, 0, &n), CORDON_ERR_TOO_LARGE);

    /* Items are taken as written: spaces are part of them, not separators. */
    char spaced[] = "a b, c";
    assert_int_equal(cordon_parse_list(spaced, items, 4, &n), CORDON_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[0], "a b");
    assert_string_equal(items[1], " c");

    /* Empty items anywhere. */
    static const char *const empty[] = {"", ",", ",a", "a,", "a,,b", ",,", "a,b,"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        char tmp[16];
        snprintf(tmp, sizeof(tmp), "%s", empty[i]);
        n = 99;
        assert_int_equal(cordon_parse_list(tmp, items, 4, &n), CORDON_ERR_INVAL);
        assert_int_equal(n, 99);
    }
    assert_int_equal(cordon_parse_list(NULL, items, 4, &n), CORDON_ERR_INVAL);
}

/* ---- rate limits ------------------------------------------------------------------------------
 */

static void test_ratelimit_new_refused(void **state)
{
    (void)state;
    cordon_ratelimit *rl = NULL;
    assert_int_equal(cordon_ratelimit_new(0, 1, 10, 1, &rl), CORDON_ERR_INVAL);
    assert_int_equal(cordon_ratelimit_new(-1, 1, 10, 1, &rl), CORDON_ERR_INVAL);
    assert_int_equal(cordon_ratelimit_new(NAN, 1, 10, 1, &rl), CORDON_ERR_INVAL);
    assert_int_equal(cordon_ratelimit_new(1, 0.5, 10, 1, &rl), CORDON_ERR_INVAL);
    assert_int_equal(cordon_ratelimit_new(1, NAN, 10, 1, &rl), CORDON_ERR_INVAL);
    assert_int_equal(cordon_ratelimit_new(1, 1, 0, 1, &rl), CORDON_ERR_INVAL);
    assert_int_equal(cordon_ratelimit_new(1, 1, SIZE_MAX, 1, &rl), CORDON_ERR_INVAL);
    assert_null(rl);
    cordon_ratelimit_free(NULL);
}

static void test_ratelimit_burst_and_refill(void **state)
{
    (void)state;
    cordon_ratelimit *rl;
    assert_int_equal(cordon_ratelimit_new(2, 3, 16, 42, &rl), CORDON_OK); /* 2/s, burst 3 */
    const char *k = "10.0.0.1";
    uint64_t t = 1000000;
    for (int i = 0; i < 3; i++)
        assert_true(cordon_ratelimit_take(rl, k, strlen(k), t));
    assert_false(cordon_ratelimit_take(rl, k, strlen(k), t));
    assert_false(cordon_ratelimit_take(rl, k, strlen(k), t + 100)); /* 0.2 token */
    /* 500 ms later: one token. */
    assert_true(cordon_ratelimit_take(rl, k, strlen(k), t + 500));
    assert_false(cordon_ratelimit_take(rl, k, strlen(k), t + 500));
    /* A long pause refills only up to the burst. */
    t += 3600 * 1000;
    for (int i = 0; i < 3; i++)
        assert_true(cordon_ratelimit_take(rl, k, strlen(k), t));
    assert_false(cordon_ratelimit_take(rl, k, strlen(k), t));
    /* Time going backwards gives nothing back (and takes nothing). */
    assert_false(cordon_ratelimit_take(rl, k, strlen(k), t - 10000));
    assert_true(cordon_ratelimit_take(rl, k, strlen(k), t + 500));
    assert_int_equal(cordon_ratelimit_size(rl), 1);
    cordon_ratelimit_free(rl);
}

/* wait_ms says when a take would succeed, and takes nothing itself: a sender that waits
 * that long before each take never hears a refusal. */
static void test_ratelimit_wait(void **state)
{
    (void)state;
    cordon_ratelimit *rl;
    assert_int_equal(cordon_ratelimit_new(4, 2, 16, 5, &rl), CORDON_OK); /* 4/s, burst 2 */
    const char *k = "node";
    uint64_t t = 5000;
    assert_int_equal(cordon_ratelimit_wait_ms(rl, k, 4, t), 0); /* unknown: a full bucket */
    assert_int_equal(cordon_ratelimit_size(rl), 0);             /* and still unknown */
    assert_true(cordon_ratelimit_take(rl, k, 4, t));
    assert_int_equal(cordon_ratelimit_wait_ms(rl, k, 4, t), 0);
    assert_true(cordon_ratelimit_take(rl, k, 4, t));
    /* Empty: a token every 250 ms. Asking again, or later, takes nothing. */
    assert_int_equal(cordon_ratelimit_wait_ms(rl, k, 4, t), 251);
    assert_int_equal(cordon_ratelimit_wait_ms(rl, k, 4, t), 251);
    assert_int_equal(cordon_ratelimit_wait_ms(rl, k, 4, t + 100), 151);
    t += 249;
    assert_false(cordon_ratelimit_take(rl, k, 4, t));
    uint64_t w = cordon_ratelimit_wait_ms(rl, k, 4, t);
    assert_true(w >= 1 && w <= 2);
    /* Waiting as told, every take succeeds: 20 takes over 5 s at 4/s. */
    for (int i = 0; i < 20; i++) {
        t += cordon_ratelimit_wait_ms(rl, k, 4, t);
        assert_true(cordon_ratelimit_take(rl, k, 4, t));
    }
    assert_true(t >= 5249 + 250 * 19 && t <= 5249 + 251 * 20);
    uint8_t big[CORDON_RATE_KEY_MAX + 1] = {0};
    assert_int_equal(cordon_ratelimit_wait_ms(rl, big, sizeof(big), t), 0);
    cordon_ratelimit_free(rl);
}

static void test_ratelimit_keys_independent(void **state)
{
    (void)state;
    cordon_ratelimit *rl;
    assert_int_equal(cordon_ratelimit_new(1, 2, 16, 7, &rl), CORDON_OK);
    uint8_t a[32], b[32];
    memset(a, 1, sizeof(a));
    memset(b, 1, sizeof(b));
    b[31] = 2; /* differs in the last byte only */
    assert_true(cordon_ratelimit_take(rl, a, 32, 0));
    assert_true(cordon_ratelimit_take(rl, a, 32, 0));
    assert_false(cordon_ratelimit_take(rl, a, 32, 0));
    assert_true(cordon_ratelimit_take(rl, b, 32, 0));
    assert_true(cordon_ratelimit_take(rl, b, 32, 0));
    assert_false(cordon_ratelimit_take(rl, b, 32, 0));
    /* A prefix of a key is another key. */
    assert_true(cordon_ratelimit_take(rl, a, 31, 0));
    assert_int_equal(cordon_ratelimit_size(rl), 3);
    /* Keys longer than CORDON_RATE_KEY_MAX are refused outright. */
    uint8_t big[CORDON_RATE_KEY_MAX + 1] = {0};
    assert_false(cordon_ratelimit_take(rl, big, sizeof(big), 0));
    assert_int_equal(cordon_ratelimit_size(rl), 3);
    cordon_ratelimit_free(rl);
}

/* The table holds `capacity` keys. When all are busy (bucket not full), a new key is
 * refused and the busy keys keep their state; once some have refilled, a sweep drops
 * exactly those and makes room. */
static void test_ratelimit_capacity(void **state)
{
    (void)state;
    cordon_ratelimit *rl;
    assert_int_equal(cordon_ratelimit_new(1, 1, 4, 99, &rl), CORDON_OK); /* 1/s, burst 1 */
    char key[16];
    /* Keys 0, 1 at t=0; keys 2, 3 at t=600: every bucket is now empty. */
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_true(cordon_ratelimit_take(rl, key, strlen(key), i < 2 ? 0 : 600));
    }
    assert_int_equal(cordon_ratelimit_size(rl), 4);

    /* A flood of new keys: all refused, nothing evicted, nothing reset. */
    for (int i = 100; i < 200; i++) {
        snprintf(key, sizeof(key), "new-%d", i);
        assert_false(cordon_ratelimit_take(rl, key, strlen(key), 700));
        assert_false(cordon_ratelimit_has(rl, key, strlen(key))); /* table full, not tracked */
    }
    assert_int_equal(cordon_ratelimit_size(rl), 4);
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_false(cordon_ratelimit_take(rl, key, strlen(key), 700));
        assert_true(cordon_ratelimit_has(rl, key, strlen(key))); /* tracked, bucket empty */
    }

    /* At t=1100 keys 0 and 1 have refilled (they are as good as unknown), 2 and 3 have
     * not. A new key sweeps 0 and 1 out and takes a place. */
    assert_true(cordon_ratelimit_take(rl, "fresh", 5, 1100));
    assert_int_equal(cordon_ratelimit_size(rl), 3);
    /* Keys 2 and 3 kept their empty buckets through the sweep. */
    assert_false(cordon_ratelimit_take(rl, "key-2", 5, 1100));
    assert_false(cordon_ratelimit_take(rl, "key-3", 5, 1100));
    /* Key 0 comes back as new, with a full bucket. */
    assert_true(cordon_ratelimit_take(rl, "key-0", 5, 1100));
    assert_int_equal(cordon_ratelimit_size(rl), 4);
    /* Full of busy keys again. */
    assert_false(cordon_ratelimit_take(rl, "other", 5, 1100));

    /* Much later every bucket is full: the next new key sweeps them all. */
    assert_true(cordon_ratelimit_take(rl, "late", 4, 100000));
    assert_int_equal(cordon_ratelimit_size(rl), 1);
    cordon_ratelimit_free(rl);
}

/* Many keys through a larger table: each key keeps its own count, and the table never
 * holds more than its capacity. */
static void test_ratelimit_many_keys(void **state)
{
    (void)state;
    cordon_ratelimit *rl;
    const size_t cap = 256;
    assert_int_equal(cordon_ratelimit_new(10, 5, cap, 12345, &rl), CORDON_OK);
    uint8_t key[8];
    for (uint64_t round = 0; round < 5; round++) {
        for (uint32_t i = 0; i < cap; i++) {
            memcpy(key, &i, sizeof(i));
            memset(key + 4, 0xee, 4);
            assert_true(cordon_ratelimit_take(rl, key, sizeof(key), 0));
        }
    }
    for (uint32_t i = 0; i < cap; i++) {
        memcpy(key, &i, sizeof(i));
        memset(key + 4, 0xee, 4);
        assert_false(cordon_ratelimit_take(rl, key, sizeof(key), 0));
    }
    assert_int_equal(cordon_ratelimit_size(rl), cap);
    assert_false(cordon_ratelimit_take(rl, "x", 1, 0));
    assert_int_equal(cordon_ratelimit_size(rl), cap);
    cordon_ratelimit_free(rl);
}

/* ---- errors -----------------------------------------------------------------------------------
 */

static void test_errors(void **state)
{
    (void)state;
    for (int i = 0; i < CORDON_ERR__COUNT; i++) {
        const char *msg = cordon_strerror((cordon_err)i);
        const char *name = cordon_errname((cordon_err)i);
        assert_non_null(msg);
        assert_non_null(name);
        assert_string_not_equal(msg, "unknown error");
        assert_string_not_equal(name, "unknown");
        assert_true(strlen(msg) > 0);
        assert_true(strlen(name) > 0);
        /* Names are stable identifiers for logs and JSON: [a-z_] only. */
        for (const char *p = name; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(name, cordon_errname((cordon_err)j));
            assert_string_not_equal(msg, cordon_strerror((cordon_err)j));
        }
    }
    assert_string_equal(cordon_errname(CORDON_OK), "ok");
    assert_string_equal(cordon_errname(CORDON_ERR_TOKEN_EXHAUSTED), "token_exhausted");
    /* Out of range: never NULL. */
    assert_string_equal(cordon_strerror(CORDON_ERR__COUNT), "unknown error");
    assert_string_equal(cordon_errname(CORDON_ERR__COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_poisoned),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_buf_take),
        cmocka_unit_test(test_buf_secret_reset_wipes),
        cmocka_unit_test(test_buf_unbounded),
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_hex_refused),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_parse_double_plain_decimal),
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_ratelimit_new_refused),
        cmocka_unit_test(test_ratelimit_burst_and_refill),
        cmocka_unit_test(test_ratelimit_wait),
        cmocka_unit_test(test_ratelimit_keys_independent),
        cmocka_unit_test(test_ratelimit_capacity),
        cmocka_unit_test(test_ratelimit_many_keys),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
