/*
 * tests/unit/test_control.c — peer/control.c over a real unix socket: a control server with
 * fake ops driven by a small epoll loop here, and a libcurl client in a thread
 * (CURLOPT_UNIX_SOCKET_PATH), as `curl --unix-socket` and the `cordon` CLI talk to it.
 *
 *   endpoints      /v1/status, /v1/peers, /metrics, /v1/lookup/{id}: status code and JSON
 *   refusals       404, 405 (with Allow), 400 for bad node IDs, 413 for a body, 503 busy
 *   lookups        answered only after the fake completes them a few loop turns later
 *                  (the connection is suspended meanwhile), synchronous completion,
 *                  504 after the timeout with the lookup cancelled, a stale token refused,
 *                  free while a lookup is suspended
 *   socket         mode 0600, a live socket refused, a stale one replaced, a regular file
 *                  refused, a path too long refused, the file removed on free
 *   objects        PUT/GET/DELETE /v1/objects/{name}: names percent-decoded, arguments
 *                  parsed into the request the host gets, the value and its headers, every
 *                  refusal code with its HTTP status, bodies over the cap refused 413 before
 *                  the host is asked, chunked bodies 411, bad names/ttl/kind/owner 400,
 *                  asynchronous completion and the 504 timeout with the request cancelled
 *   cordon CLI     the built cli/cordon binary (found next to this test's build directory;
 *                  skipped when it was not built) against the same server: human output,
 *                  --json, $CORDON_CONTROL, errors and exit codes
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <libgen.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/hex.h"
#include "peer/control.h"

#define LOOKUP_TURNS 3 /* loop turns before the fake completes a lookup */

enum lookup_mode { MODE_LATER, MODE_SYNC, MODE_NEVER, MODE_BUSY };

struct fake {
    cordon_control *ctl;
    enum lookup_mode mode;
    bool pending;
    uint64_t token;
    uint8_t target[CORDON_NODE_ID_LEN];
    int turns_left;
    int lookups;
    int cancels;
    uint64_t cancelled_token;
    int completed_after_turns; /* loop turns the last completed lookup waited */
    int turns;
    int start_turn;
    /* object requests: the last one seen (its value copied), and one waiting (MODE_LATER) */
    int objects;
    struct cordon_control_object_request oreq;
    uint8_t ovalue[CORDON_OBJECT_VALUE_MAX];
    bool obj_pending;
    uint64_t obj_token;
};

struct client {
    const char *sock;
    const char *method;
    const char *path;
    const char *body;
    long code;
    const char *body_raw; /* with body_len: a body with any bytes */
    size_t body_len;
    bool chunked;
    cordon_buf resp;
    char allow[64];
    char seq[32];
    char ctype[64];
    CURLcode rc;
    atomic_bool done;
};

struct fixture {
    char dir[64];
    char sock[128];
    struct fake fake;
    cordon_control *ctl;
    int ep;
};

/* ---- fake ops --------------------------------------------------------------------------- */

static void fake_id(uint8_t id[CORDON_NODE_ID_LEN], uint8_t first, uint8_t fill)
{
    memset(id, fill, CORDON_NODE_ID_LEN);
    id[0] = first;
}

static cordon_err fake_status(void *ctx, struct cordon_control_status *st)
{
    (void)ctx;
    fake_id(st->node_id, 0xab, 0x01);
    snprintf(st->overlay, sizeof(st->overlay), "test-overlay");
    snprintf(st->listen, sizeof(st->listen), "127.0.0.1:4000");
    st->uptime_s = 42;
    st->table_size = 3;
    st->links = 2;
    st->n_counters = 3;
    snprintf(st->counters[0].name, sizeof(st->counters[0].name), "lookups");
    st->counters[0].value = 7;
    snprintf(st->counters[1].name, sizeof(st->counters[1].name), "handshake_refused");
    st->counters[1].value = 5;
    snprintf(st->counters[2].name, sizeof(st->counters[2].name), "Bad Name");
    st->counters[2].value = 1;
    return CORDON_OK;
}

static cordon_err fake_peers(void *ctx, cordon_control_visit_fn visit, void *visit_ctx)
{
    (void)ctx;
    for (uint8_t i = 0; i < 3; i++) {
        struct cordon_control_contact ct = {.last_seen_ms = i == 2 ? -1 : 100 * i, .failures = i};
        fake_id(ct.node_id, (uint8_t)(0x10 * (i + 1)), 0x22);
        snprintf(ct.addr, sizeof(ct.addr), "127.0.0.1:%u", 4001u + i);
        cordon_err err = visit(visit_ctx, &ct);
        if (err != CORDON_OK)
            return err;
    }
    return CORDON_OK;
}

static void fake_complete(struct fake *f)
{
    struct cordon_control_lookup_result r = {.err = CORDON_OK, .queried = 9, .n_contacts = 3};
    /* Farthest first: the control must sort them closest first. */
    memcpy(r.contacts[0].node_id, f->target, CORDON_NODE_ID_LEN);
    r.contacts[0].node_id[0] ^= 0x80;
    memcpy(r.contacts[1].node_id, f->target, CORDON_NODE_ID_LEN);
    r.contacts[1].node_id[31] ^= 0x01;
    memcpy(r.contacts[2].node_id, f->target, CORDON_NODE_ID_LEN);
    for (size_t i = 0; i < 3; i++)
        snprintf(r.contacts[i].addr, sizeof(r.contacts[i].addr), "10.0.0.%zu:4000", i + 1);
    f->pending = false;
    f->completed_after_turns = f->turns - f->start_turn;
    assert_int_equal(cordon_control_lookup_done(f->ctl, f->token, &r), CORDON_OK);
}

static cordon_err fake_lookup(void *ctx, const uint8_t target[CORDON_NODE_ID_LEN], uint64_t token)
{
    struct fake *f = ctx;
    f->lookups++;
    if (f->mode == MODE_BUSY)
        return CORDON_ERR_BUSY;
    memcpy(f->target, target, CORDON_NODE_ID_LEN);
    f->token = token;
    f->pending = true;
    f->turns_left = LOOKUP_TURNS;
    f->start_turn = f->turns;
    if (f->mode == MODE_SYNC)
        fake_complete(f);
    return CORDON_OK;
}

static void fake_cancel(void *ctx, uint64_t token)
{
    struct fake *f = ctx;
    f->cancels++;
    f->cancelled_token = token;
    f->pending = false;
}

/* The answer of the fake overlay: chosen by the name, so each test names what it wants. */
static void fake_object_complete(struct fake *f)
{
    struct cordon_control_object_result r;
    const struct cordon_control_object_request *q = &f->oreq;
    memset(&r, 0, sizeof(r));
    r.seq = 7;
    fake_id(r.writer, 0xab, 0x01);
    r.expires_at = 1800000000;
    r.replicas = 3;
    r.accepted = 3;
    r.asked = 3;
    r.found = 3;
#define NAMED(x) (q->name_len == strlen(x) && memcmp(q->name, x, q->name_len) == 0)
    if (NAMED("missing")) {
        r.err = CORDON_ERR_NOT_FOUND;
    } else if (NAMED("gone")) {
        r.deleted = true;
    } else if (NAMED("quota")) {
        r.err = CORDON_ERR_OBJ_QUOTA;
        r.accepted = 0;
        r.refused = 3;
    } else if (NAMED("stale")) {
        r.err = CORDON_ERR_OBJ_STALE;
        r.held = 99;
    } else if (NAMED("theirs")) {
        r.err = CORDON_ERR_OBJ_NOT_ALLOWED;
    } else if (NAMED("full")) {
        r.err = CORDON_ERR_OBJ_CAPACITY;
    } else if (NAMED("unreachable")) {
        r.err = CORDON_ERR_NETWORK;
    } else if (q->op == CORDON_CONTROL_OBJECT_GET) {
        r.value = (const uint8_t *)"hello\0world";
        r.value_len = 11;
    }
#undef NAMED
    f->obj_pending = false;
    assert_int_equal(cordon_control_object_done(f->ctl, f->obj_token, &r), CORDON_OK);
}

static cordon_err fake_object(void *ctx, const struct cordon_control_object_request *r,
                              uint64_t token)
{
    struct fake *f = ctx;
    f->objects++;
    if (f->mode == MODE_BUSY)
        return CORDON_ERR_BUSY;
    f->oreq = *r;
    assert_true(r->value_len <= sizeof(f->ovalue));
    if (r->value_len > 0)
        memcpy(f->ovalue, r->value, r->value_len);
    f->oreq.value = f->ovalue;
    f->obj_token = token;
    f->obj_pending = true;
    f->turns_left = LOOKUP_TURNS;
    if (f->mode == MODE_SYNC)
        fake_object_complete(f);
    return CORDON_OK;
}

static const struct cordon_control_ops fake_ops = {
    .status = fake_status,
    .peers = fake_peers,
    .lookup = fake_lookup,
    .lookup_cancel = fake_cancel,
    .object = fake_object,
};

/* One loop turn of the "runtime": the fake overlay makes progress on its lookup. */
static void fake_turn(struct fake *f)
{
    f->turns++;
    if (f->pending && f->mode == MODE_LATER && --f->turns_left == 0)
        fake_complete(f);
    if (f->obj_pending && f->mode == MODE_LATER && --f->turns_left == 0)
        fake_object_complete(f);
}

/* ---- client ----------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct client *cl = arg;
    return cordon_buf_append(&cl->resp, p, size * n) == CORDON_OK ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct client *cl = arg;
    size_t len = size * n;
    static const struct {
        const char *name;
        size_t off;
        size_t cap;
    } keep[] = {{"X-Cordon-Seq: ", offsetof(struct client, seq), sizeof(cl->seq)},
                {"Content-Type: ", offsetof(struct client, ctype), sizeof(cl->ctype)}};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        size_t k = strlen(keep[i].name);
        if (len > k && strncasecmp(p, keep[i].name, k) == 0) {
            size_t v = len - k;
            while (v > 0 && (p[k + v - 1] == '\r' || p[k + v - 1] == '\n'))
                v--;
            if (v < keep[i].cap) {
                memcpy((char *)cl + keep[i].off, p + k, v);
                ((char *)cl + keep[i].off)[v] = '\0';
            }
        }
    }
    if (len > 7 && strncasecmp(p, "Allow: ", 7) == 0) {
        size_t v = len - 7;
        while (v > 0 && (p[7 + v - 1] == '\r' || p[7 + v - 1] == '\n'))
            v--;
        if (v < sizeof(cl->allow)) {
            memcpy(cl->allow, p + 7, v);
            cl->allow[v] = '\0';
        }
    }
    return len;
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    char url[1024];
    snprintf(url, sizeof(url), "http://peer%s", cl->path);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, cl->sock);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, cl->method);
    if (cl->body != NULL)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, cl->body);
    if (cl->body_raw != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, cl->body_raw);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)cl->body_len);
    }
    struct curl_slist *hdrs = NULL;
    if (cl->chunked)
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
    /* A body the server may refuse unread is announced first, as the cordon CLI does: a
     * server that answers 413 and closes while the client is still writing leaves it a
     * send error instead of the answer, whenever the body outgrows the socket buffer. */
    if (cl->body_raw != NULL && !cl->chunked)
        hdrs = curl_slist_append(hdrs, "Expect: 100-continue");
    if (hdrs != NULL)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, cl);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, cl);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    cl->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &cl->code);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    atomic_store(&cl->done, true);
    return NULL;
}

/* The host loop: epoll on the control's fd, bounded by its timeout. */
static void loop_turn(struct fixture *fx)
{
    struct epoll_event ev[4];
    int to = cordon_control_timeout_ms(fx->ctl);
    if (to < 0 || to > 20)
        to = 20;
    int n = epoll_wait(fx->ep, ev, 4, to);
    assert_true(n >= 0);
    assert_int_equal(cordon_control_run(fx->ctl), CORDON_OK);
    fake_turn(&fx->fake);
}

static void client_start(struct fixture *fx, struct client *cl, pthread_t *th, const char *method,
                         const char *path, const char *body)
{
    memset(cl, 0, sizeof(*cl));
    cl->sock = fx->sock;
    cl->method = method;
    cl->path = path;
    cl->body = body;
    cordon_buf_init(&cl->resp, 4 * 1024 * 1024, false);
    atomic_init(&cl->done, false);
    assert_int_equal(pthread_create(th, NULL, client_main, cl), 0);
}

/* Runs one request to completion; returns the parsed JSON body (NULL if not JSON). */
static json_t *request(struct fixture *fx, struct client *cl, const char *method, const char *path,
                       const char *body)
{
    pthread_t th;
    client_start(fx, cl, &th, method, path, body);
    while (!atomic_load(&cl->done))
        loop_turn(fx);
    pthread_join(th, NULL);
    assert_int_equal(cl->rc, CURLE_OK);
    assert_int_equal(cordon_buf_terminate(&cl->resp), CORDON_OK);
    return json_loads((const char *)cl->resp.data, 0, NULL);
}

static void expect_error(struct fixture *fx, const char *method, const char *path, const char *body,
                         long code, const char *needle)
{
    struct client cl;
    json_t *o = request(fx, &cl, method, path, body);
    assert_int_equal(cl.code, code);
    assert_non_null(o);
    const char *msg = json_string_value(json_object_get(o, "error"));
    assert_non_null(msg);
    assert_non_null(strstr(msg, needle));
    json_decref(o);
    cordon_buf_free(&cl.resp);
}

/* ---- fixture ---------------------------------------------------------------------------- */

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/cordon-ctl-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->sock, sizeof(fx->sock), "%s/control.sock", fx->dir);
    assert_int_equal(cordon_control_new(fx->sock, &fake_ops, &fx->fake, &fx->ctl), CORDON_OK);
    fx->fake.ctl = fx->ctl;
    fx->ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(fx->ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN};
    assert_int_equal(epoll_ctl(fx->ep, EPOLL_CTL_ADD, cordon_control_fd(fx->ctl), &ev), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    cordon_control_free(fx->ctl);
    close(fx->ep);
    /* The control removed its socket file. */
    assert_int_equal(access(fx->sock, F_OK), -1);
    unlink(fx->sock);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_status(void **state)
{
    struct fixture *fx = *state;
    struct client cl;
    json_t *o = request(fx, &cl, "GET", "/v1/status", NULL);
    assert_int_equal(cl.code, 200);
    assert_non_null(o);
    char id[65];
    uint8_t raw[32];
    fake_id(raw, 0xab, 0x01);
    cordon_hex_encode(raw, 32, id);
    assert_string_equal(json_string_value(json_object_get(o, "node_id")), id);
    assert_string_equal(json_string_value(json_object_get(o, "overlay")), "test-overlay");
    assert_string_equal(json_string_value(json_object_get(o, "listen")), "127.0.0.1:4000");
    assert_int_equal(json_integer_value(json_object_get(o, "uptime_s")), 42);
    assert_int_equal(json_integer_value(json_object_get(o, "table_size")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "links")), 2);
    json_t *k = json_object_get(o, "counters");
    assert_int_equal(json_object_size(k), 2); /* "Bad Name" is skipped */
    assert_int_equal(json_integer_value(json_object_get(k, "lookups")), 7);
    assert_int_equal(json_integer_value(json_object_get(k, "handshake_refused")), 5);
    json_decref(o);
    cordon_buf_free(&cl.resp);
}

static void test_peers(void **state)
{
    struct fixture *fx = *state;
    struct client cl;
    json_t *o = request(fx, &cl, "GET", "/v1/peers", NULL);
    assert_int_equal(cl.code, 200);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "count")), 3);
    assert_true(json_is_false(json_object_get(o, "truncated")));
    json_t *list = json_object_get(o, "peers");
    assert_int_equal(json_array_size(list), 3);
    json_t *p1 = json_array_get(list, 1);
    assert_string_equal(json_string_value(json_object_get(p1, "addr")), "127.0.0.1:4002");
    assert_int_equal(json_integer_value(json_object_get(p1, "last_seen_ms")), 100);
    assert_int_equal(json_integer_value(json_object_get(p1, "failures")), 1);
    assert_int_equal(strlen(json_string_value(json_object_get(p1, "node_id"))), 64);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 2), "last_seen_ms")),
                     -1);
    json_decref(o);
    cordon_buf_free(&cl.resp);
}

static void test_metrics(void **state)
{
    struct fixture *fx = *state;
    struct client cl;
    json_t *o = request(fx, &cl, "GET", "/metrics", NULL);
    assert_null(o);
    assert_int_equal(cl.code, 200);
    const char *text = (const char *)cl.resp.data;
    assert_non_null(strstr(text, "\ncordon_peer_table_size 3\n"));
    assert_non_null(strstr(text, "\ncordon_peer_links 2\n"));
    assert_non_null(strstr(text, "\ncordon_peer_lookups_total 7\n"));
    assert_non_null(strstr(text, "\ncordon_peer_handshake_refused_total 5\n"));
    assert_non_null(strstr(text, "cordon_peer_info{node_id=\"ab0101"));
    assert_non_null(strstr(text, "overlay=\"test-overlay\"} 1\n"));
    assert_null(strstr(text, "Bad Name"));
    assert_non_null(strstr(text, "\ncordon_control_requests_total 1\n"));
    cordon_buf_free(&cl.resp);
}

#define TARGET "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void check_lookup_body(json_t *o)
{
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "target")), TARGET);
    assert_true(json_is_true(json_object_get(o, "found")));
    assert_int_equal(json_integer_value(json_object_get(o, "queried")), 9);
    json_t *list = json_object_get(o, "closest");
    assert_int_equal(json_array_size(list), 3);
    /* Closest first: the target itself, then the one differing in the last bit. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "node_id")),
                        TARGET);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(list, 0), "common_prefix_bits")), 256);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(list, 1), "common_prefix_bits")), 255);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(list, 2), "common_prefix_bits")), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "addr")),
                        "10.0.0.1:4000");
}

static void test_lookup_suspended(void **state)
{
    struct fixture *fx = *state;
    fx->fake.mode = MODE_LATER;
    struct client cl;
    json_t *o = request(fx, &cl, "GET", "/v1/lookup/" TARGET, NULL);
    assert_int_equal(cl.code, 200);
    assert_int_equal(fx->fake.lookups, 1);
    assert_int_equal(fx->fake.completed_after_turns, LOOKUP_TURNS);
    assert_false(fx->fake.pending);
    assert_int_equal(fx->fake.cancels, 0);
    check_lookup_body(o);
    json_decref(o);
    cordon_buf_free(&cl.resp);
    /* Upper-case hex is a node ID too. */
    o = request(fx, &cl, "GET",
                "/v1/lookup/00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF",
                NULL);
    assert_int_equal(cl.code, 200);
    check_lookup_body(o);
    json_decref(o);
    cordon_buf_free(&cl.resp);
    /* A completed token is forgotten. */
    struct cordon_control_lookup_result r = {0};
    assert_int_equal(cordon_control_lookup_done(fx->ctl, fx->fake.token, &r), CORDON_ERR_NOT_FOUND);
}

static void test_lookup_sync(void **state)
{
    struct fixture *fx = *state;
    fx->fake.mode = MODE_SYNC;
    struct client cl;
    json_t *o = request(fx, &cl, "GET", "/v1/lookup/" TARGET, NULL);
    assert_int_equal(cl.code, 200);
    assert_int_equal(fx->fake.completed_after_turns, 0);
    check_lookup_body(o);
    json_decref(o);
    cordon_buf_free(&cl.resp);
}

static void test_lookup_timeout(void **state)
{
    struct fixture *fx = *state;
    fx->fake.mode = MODE_NEVER;
    cordon_control_set_lookup_timeout(fx->ctl, 150);
    expect_error(fx, "GET", "/v1/lookup/" TARGET, NULL, 504, "timed out");
    assert_int_equal(fx->fake.cancels, 1);
    assert_true(fx->fake.cancelled_token == fx->fake.token);
    struct cordon_control_lookup_result r = {0};
    assert_int_equal(cordon_control_lookup_done(fx->ctl, fx->fake.token, &r), CORDON_ERR_NOT_FOUND);
    /* The metrics count it. */
    struct client cl;
    json_t *o = request(fx, &cl, "GET", "/metrics", NULL);
    assert_null(o);
    assert_non_null(
        strstr((const char *)cl.resp.data, "cordon_control_lookups_timed_out_total 1\n"));
    cordon_buf_free(&cl.resp);
}

static void test_lookup_busy(void **state)
{
    struct fixture *fx = *state;
    fx->fake.mode = MODE_BUSY;
    expect_error(fx, "GET", "/v1/lookup/" TARGET, NULL, 503, "busy");
}

static void test_refusals(void **state)
{
    struct fixture *fx = *state;
    expect_error(fx, "GET", "/nope", NULL, 404, "no such endpoint");
    expect_error(fx, "GET", "/v1/status/extra", NULL, 404, "no such endpoint");
    expect_error(fx, "GET", "/v1/lookup/" TARGET "00", NULL, 400, "64 hex digits");
    expect_error(fx, "GET", "/v1/lookup/zz", NULL, 400, "64 hex digits");
    expect_error(fx, "GET", "/v1/lookup/", NULL, 400, "64 hex digits");
    expect_error(fx, "GET", "/v1/lookup", NULL, 400, "64 hex digits");
    expect_error(fx, "GET",
                 "/v1/lookup/0011223344556677889Gaabbccddeeff00112233445566778899aabbccddeeff",
                 NULL, 400, "64 hex digits");
    expect_error(fx, "GET", "/v1/status", "x=1", 413, "no request body");
    assert_int_equal(fx->fake.lookups, 0);

    struct client cl;
    json_t *o = request(fx, &cl, "POST", "/v1/status", "{}");
    assert_int_equal(cl.code, 405);
    assert_string_equal(cl.allow, "GET, HEAD");
    assert_non_null(json_object_get(o, "error"));
    json_decref(o);
    cordon_buf_free(&cl.resp);
    o = request(fx, &cl, "DELETE", "/v1/lookup/" TARGET, NULL);
    assert_int_equal(cl.code, 405);
    json_decref(o);
    cordon_buf_free(&cl.resp);
    assert_int_equal(fx->fake.lookups, 0);
}

/* ---- objects ------------------------------------------------------------------------------ */

/* request() with a body of any bytes (len), sent chunked when asked. */
static json_t *request_raw(struct fixture *fx, struct client *cl, const char *method,
                           const char *path, const char *body, size_t len, bool chunked)
{
    pthread_t th;
    memset(cl, 0, sizeof(*cl));
    cl->sock = fx->sock;
    cl->method = method;
    cl->path = path;
    cl->body_raw = body;
    cl->body_len = len;
    cl->chunked = chunked;
    cordon_buf_init(&cl->resp, 4 * 1024 * 1024, false);
    atomic_init(&cl->done, false);
    assert_int_equal(pthread_create(&th, NULL, client_main, cl), 0);
    while (!atomic_load(&cl->done))
        loop_turn(fx);
    pthread_join(th, NULL);
    assert_int_equal(cl->rc, CURLE_OK);
    assert_int_equal(cordon_buf_terminate(&cl->resp), CORDON_OK);
    return json_loads((const char *)cl->resp.data, 0, NULL);
}

/* An object answer with status and the JSON "code". */
static void expect_code(struct fixture *fx, const char *method, const char *path, const char *body,
                        long status, const char *code)
{
    struct client cl;
    json_t *o = request_raw(fx, &cl, method, path, body, body != NULL ? strlen(body) : 0, false);
    assert_int_equal(cl.code, status);
    assert_non_null(o);
    assert_non_null(json_string_value(json_object_get(o, "error")));
    assert_string_equal(json_string_value(json_object_get(o, "code")), code);
    json_decref(o);
    cordon_buf_free(&cl.resp);
}

static void test_objects(void **state)
{
    struct fixture *fx = *state;
    struct fake *f = &fx->fake;
    struct client cl;
    f->mode = MODE_LATER;

    /* PUT: the name percent-decoded, the arguments, the body as it was sent. */
    json_t *o = request_raw(fx, &cl, "PUT", "/v1/objects/a%2Fb%20c%25?ttl=60&kind=shared",
                            "val\0ue", 6, false);
    assert_int_equal(cl.code, 200);
    assert_int_equal(f->objects, 1);
    assert_int_equal(f->oreq.op, CORDON_CONTROL_OBJECT_PUT);
    assert_int_equal(f->oreq.name_len, 6);
    assert_memory_equal(f->oreq.name, "a/b c%", 6);
    assert_true(f->oreq.shared);
    assert_false(f->oreq.has_owner);
    assert_int_equal(f->oreq.ttl, 60);
    assert_int_equal(f->oreq.value_len, 6);
    assert_memory_equal(f->ovalue, "val\0ue", 6);
    assert_string_equal(json_string_value(json_object_get(o, "result")), "stored");
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "shared");
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 7);
    assert_int_equal(json_integer_value(json_object_get(o, "accepted")), 3);
    json_decref(o);
    cordon_buf_free(&cl.resp);

    /* seq as asked, on PUT and DELETE. */
    o = request_raw(fx, &cl, "PUT", "/v1/objects/s?seq=18446744073709551", "v", 1, false);
    assert_int_equal(cl.code, 200);
    assert_true(f->oreq.seq == 18446744073709551ULL);
    json_decref(o);
    cordon_buf_free(&cl.resp);
    o = request_raw(fx, &cl, "DELETE", "/v1/objects/s?seq=5", NULL, 0, false);
    assert_int_equal(cl.code, 200);
    assert_true(f->oreq.seq == 5);
    json_decref(o);
    cordon_buf_free(&cl.resp);

    /* An empty value is a value. */
    o = request_raw(fx, &cl, "PUT", "/v1/objects/empty", "", 0, false);
    assert_int_equal(cl.code, 200);
    assert_int_equal(f->oreq.value_len, 0);
    assert_false(f->oreq.shared);
    assert_int_equal(f->oreq.ttl, 0);
    assert_true(f->oreq.seq == 0);
    json_decref(o);
    cordon_buf_free(&cl.resp);

    /* GET: the value as octets, its seq in a header; owner parsed. */
    o = request_raw(fx, &cl, "GET", "/v1/objects/x?owner=" TARGET, NULL, 0, false);
    assert_null(o);
    assert_int_equal(cl.code, 200);
    assert_int_equal(f->oreq.op, CORDON_CONTROL_OBJECT_GET);
    assert_true(f->oreq.has_owner);
    assert_int_equal(f->oreq.owner[1], 0x11);
    assert_int_equal(cl.resp.len, 11);
    assert_memory_equal(cl.resp.data, "hello\0world", 11);
    assert_string_equal(cl.seq, "7");
    assert_string_equal(cl.ctype, "application/octet-stream");
    cordon_buf_free(&cl.resp);

    /* DELETE. */
    o = request_raw(fx, &cl, "DELETE", "/v1/objects/x?kind=owned", NULL, 0, false);
    assert_int_equal(cl.code, 200);
    assert_int_equal(f->oreq.op, CORDON_CONTROL_OBJECT_DEL);
    assert_string_equal(json_string_value(json_object_get(o, "result")), "deleted");
    json_decref(o);
    cordon_buf_free(&cl.resp);

    /* Every refusal with its status and code. */
    expect_code(fx, "GET", "/v1/objects/missing", NULL, 404, "not_found");
    expect_code(fx, "GET", "/v1/objects/gone", NULL, 410, "deleted");
    expect_code(fx, "PUT", "/v1/objects/quota", "v", 507, "quota_exceeded");
    expect_code(fx, "PUT", "/v1/objects/full", "v", 507, "capacity");
    expect_code(fx, "PUT", "/v1/objects/theirs", "v", 403, "not_allowed");
    expect_code(fx, "PUT", "/v1/objects/unreachable", "v", 503, "network");
    o = request_raw(fx, &cl, "PUT", "/v1/objects/stale", "v", 1, false);
    assert_int_equal(cl.code, 409);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "stale");
    assert_int_equal(json_integer_value(json_object_get(o, "held")), 99);
    json_decref(o);
    cordon_buf_free(&cl.resp);

    /* Completed inside the op, and refused by it at once. */
    f->mode = MODE_SYNC;
    expect_code(fx, "GET", "/v1/objects/missing", NULL, 404, "not_found");
    f->mode = MODE_BUSY;
    expect_code(fx, "GET", "/v1/objects/x", NULL, 503, "busy");
    assert_int_equal(f->objects, 15);
}

static void test_object_refusals(void **state)
{
    struct fixture *fx = *state;
    struct fake *f = &fx->fake;
    struct client cl;
    char path[512];
    f->mode = MODE_SYNC;
    expect_error(fx, "PUT", "/v1/objects/a%00b", "x", 400, "no NUL");
    expect_error(fx, "PUT", "/v1/objects/", "x", 400, "bad object name");
    expect_error(fx, "GET", "/v1/objects", NULL, 400, "bad object name");
    expect_error(fx, "GET", "/v1/objects/a%zz", NULL, 400, "bad object name");
    expect_error(fx, "GET", "/v1/objects/a%2", NULL, 400, "bad object name");
    int n = snprintf(path, sizeof(path), "/v1/objects/");
    memset(path + n, 'a', 256);
    path[n + 256] = '\0';
    expect_error(fx, "GET", path, NULL, 400, "bad object name");
    path[n + 255] = '\0'; /* 255 bytes: a name */
    json_t *o = request_raw(fx, &cl, "GET", path, NULL, 0, false);
    assert_int_equal(cl.code, 200);
    assert_int_equal(f->oreq.name_len, 255);
    cordon_buf_free(&cl.resp);
    f->objects = 0;
    expect_code(fx, "PUT", "/v1/objects/q?ttl=abc", "x", 400, "invalid");
    expect_code(fx, "PUT", "/v1/objects/q?ttl=0", "x", 400, "invalid");
    expect_code(fx, "PUT", "/v1/objects/q?ttl=4294967296", "x", 400, "invalid");
    expect_code(fx, "PUT", "/v1/objects/q?ttl=", "x", 400, "invalid");
    expect_code(fx, "PUT", "/v1/objects/q?kind=crl", "x", 400, "invalid");
    expect_code(fx, "PUT", "/v1/objects/q?owner=zz", "x", 400, "invalid");
    expect_code(fx, "GET", "/v1/objects/q?owner=" TARGET "00", NULL, 400, "invalid");
    expect_code(fx, "GET", "/v1/objects/q?ttl=5", NULL, 400, "invalid");
    expect_code(fx, "GET", "/v1/objects/q?color=red", NULL, 400, "invalid");
    expect_code(fx, "PUT", "/v1/objects/q?seq=0", "x", 400, "invalid");
    expect_code(fx, "PUT", "/v1/objects/q?seq=1x", "x", 400, "invalid");
    expect_code(fx, "PUT", "/v1/objects/q?seq=12345678901234567890", "x", 400, "invalid");
    expect_code(fx, "GET", "/v1/objects/q?seq=1", NULL, 400, "invalid");
    expect_error(fx, "GET", "/v1/objects/q", "x=1", 413, "only PUT");
    expect_error(fx, "DELETE", "/v1/objects/q", "x=1", 413, "only PUT");
    assert_int_equal(f->objects, 0);

    /* Over the cap: 413 before the body is read and before the host is asked. */
    static char big[CORDON_OBJECT_VALUE_MAX + 1];
    memset(big, 'v', sizeof(big));
    o = request_raw(fx, &cl, "PUT", "/v1/objects/big", big, sizeof(big), false);
    assert_int_equal(cl.code, 413);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "too_large");
    json_decref(o);
    cordon_buf_free(&cl.resp);
    o = request_raw(fx, &cl, "PUT", "/v1/objects/big", big, sizeof(big) - 1, false);
    assert_int_equal(cl.code, 200); /* at the cap */
    assert_int_equal(f->oreq.value_len, CORDON_OBJECT_VALUE_MAX);
    json_decref(o);
    cordon_buf_free(&cl.resp);
    cordon_control_set_body_max(fx->ctl, 10);
    expect_code(fx, "PUT", "/v1/objects/q", "12345678901", 413, "too_large");
    expect_code(fx, "PUT", "/v1/objects/stale", "1234567890", 409, "stale");
    o = request_raw(fx, &cl, "PUT", "/v1/objects/q", "abc", 3, true);
    assert_int_equal(cl.code, 411);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "length_required");
    json_decref(o);
    cordon_buf_free(&cl.resp);
    assert_int_equal(f->objects, 2);

    o = request(fx, &cl, "POST", "/v1/objects/q", "x");
    assert_int_equal(cl.code, 405);
    assert_string_equal(cl.allow, "GET, HEAD, PUT, DELETE");
    json_decref(o);
    cordon_buf_free(&cl.resp);
}

static void test_object_timeout(void **state)
{
    struct fixture *fx = *state;
    fx->fake.mode = MODE_NEVER;
    cordon_control_set_lookup_timeout(fx->ctl, 150);
    expect_code(fx, "PUT", "/v1/objects/slow", "v", 504, "timeout");
    assert_int_equal(fx->fake.cancels, 1);
    assert_true(fx->fake.cancelled_token == fx->fake.obj_token);
    struct cordon_control_object_result r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(cordon_control_object_done(fx->ctl, fx->fake.obj_token, &r),
                     CORDON_ERR_NOT_FOUND);
    /* A lookup's completion does not answer an object request, nor the other way round. */
    struct cordon_control_lookup_result lr = {0};
    assert_int_equal(cordon_control_lookup_done(fx->ctl, fx->fake.obj_token, &lr),
                     CORDON_ERR_NOT_FOUND);
    struct client cl;
    json_t *o = request(fx, &cl, "GET", "/metrics", NULL);
    assert_null(o);
    assert_non_null(
        strstr((const char *)cl.resp.data, "cordon_control_objects_timed_out_total 1\n"));
    assert_non_null(strstr((const char *)cl.resp.data, "cordon_control_objects_total 1\n"));
    cordon_buf_free(&cl.resp);
}

/* The control closes under a suspended lookup: the lookup is cancelled, nothing leaks. */
static void test_free_while_suspended(void **state)
{
    struct fixture *fx = *state;
    fx->fake.mode = MODE_NEVER;
    struct client cl;
    pthread_t th;
    client_start(fx, &cl, &th, "GET", "/v1/lookup/" TARGET, NULL);
    while (!fx->fake.pending)
        loop_turn(fx);
    for (int i = 0; i < 3; i++)
        loop_turn(fx);
    assert_false(atomic_load(&cl.done));
    cordon_control_free(fx->ctl);
    fx->ctl = NULL;
    pthread_join(th, NULL);
    assert_int_not_equal(cl.rc, CURLE_OK); /* closed without an answer */
    assert_int_equal(fx->fake.cancels, 1);
    cordon_buf_free(&cl.resp);
    assert_int_equal(access(fx->sock, F_OK), -1);
}

static void test_socket(void **state)
{
    struct fixture *fx = *state;
    struct stat st;
    assert_int_equal(lstat(fx->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    /* A second server on the live path is refused and leaves the first one working. */
    struct fake other = {0};
    cordon_control *ctl2 = (cordon_control *)&other; /* must be reset to NULL */
    assert_int_equal(cordon_control_new(fx->sock, &fake_ops, &other, &ctl2), CORDON_ERR_EXISTS);
    assert_null(ctl2);
    struct client cl;
    json_t *o = request(fx, &cl, "GET", "/v1/status", NULL);
    assert_int_equal(cl.code, 200);
    json_decref(o);
    cordon_buf_free(&cl.resp);

    /* A stale socket (bound, nobody listening) is replaced. */
    char stale[100];
    snprintf(stale, sizeof(stale), "%.60s/stale.sock", fx->dir);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", stale);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    assert_int_equal(cordon_control_new(stale, &fake_ops, &other, &ctl2), CORDON_OK);
    assert_int_equal(lstat(stale, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    cordon_control_free(ctl2);
    assert_int_equal(access(stale, F_OK), -1);

    /* A regular file is never removed. */
    char file[160];
    snprintf(file, sizeof(file), "%s/file", fx->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(cordon_control_new(file, &fake_ops, &other, &ctl2), CORDON_ERR_EXISTS);
    assert_int_equal(access(file, F_OK), 0);
    unlink(file);

    /* Paths that cannot be a unix socket, missing ops. */
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(cordon_control_new(longpath, &fake_ops, &other, &ctl2), CORDON_ERR_INVAL);
    assert_int_equal(cordon_control_new("", &fake_ops, &other, &ctl2), CORDON_ERR_INVAL);
    struct cordon_control_ops partial = fake_ops;
    partial.lookup = NULL;
    assert_int_equal(cordon_control_new(stale, &partial, &other, &ctl2), CORDON_ERR_INVAL);
    assert_int_equal(cordon_control_new(stale, NULL, &other, &ctl2), CORDON_ERR_INVAL);
    cordon_control_free(NULL);
}

/* ---- the cordon CLI against the server --------------------------------------------------- */

static bool cli_path(char *out, size_t n)
{
    char self[512];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0)
        return false;
    self[len] = '\0';
    snprintf(out, n, "%.400s/../cli/cordon", dirname(self));
    return access(out, X_OK) == 0;
}

/* Runs the CLI while the loop serves; returns its exit status, output (stdout and stderr
 * together) in out. */
static int run_cli(struct fixture *fx, const char *exe, char *const argv[], char *const envp[],
                   char *out, size_t outlen)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execve(exe, argv, envp);
        _exit(127);
    }
    close(fds[1]);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    size_t used = 0;
    int status = 0;
    for (;;) {
        if (fx->ctl != NULL)
            loop_turn(fx);
        else
            usleep(10000);
        ssize_t r;
        while ((r = read(fds[0], out + used, outlen - 1 - used)) > 0)
            used += (size_t)r;
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
    }
    ssize_t r;
    while ((r = read(fds[0], out + used, outlen - 1 - used)) > 0)
        used += (size_t)r;
    out[used] = '\0';
    close(fds[0]);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_cli(void **state)
{
    struct fixture *fx = *state;
    char exe[512];
    if (!cli_path(exe, sizeof(exe))) {
        print_message("cli/cordon not built: skipping\n");
        skip();
    }
    static char out[16384];
    char *const noenv[] = {NULL};
    char *sock = fx->sock;

    char *status_argv[] = {exe, "--control", sock, "status", NULL};
    assert_int_equal(run_cli(fx, exe, status_argv, noenv, out, sizeof(out)), 0);
    /* Keys padded to the longest counter name (+ 2 for its indent), values aligned. */
    assert_non_null(strstr(out, "node ID              ab0101"));
    assert_non_null(strstr(out, "\noverlay              test-overlay\n"));
    assert_non_null(strstr(out, "\ntable size           3\n"));
    assert_non_null(strstr(out, "\n  lookups            7\n"));
    assert_non_null(strstr(out, "\n  handshake_refused  5\n"));

    /* $CORDON_CONTROL names the socket when --control does not. */
    char env_control[200];
    snprintf(env_control, sizeof(env_control), "CORDON_CONTROL=%s", sock);
    char *const env[] = {env_control, NULL};
    char *peers_argv[] = {exe, "peers", NULL};
    assert_int_equal(run_cli(fx, exe, peers_argv, env, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "127.0.0.1:4002"));
    assert_non_null(strstr(out, "seen never"));
    assert_non_null(strstr(out, "\n3 peers\n"));

    fx->fake.mode = MODE_LATER;
    char *lookup_argv[] = {exe, "lookup", TARGET, "--control", sock, NULL};
    assert_int_equal(run_cli(fx, exe, lookup_argv, noenv, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "target " TARGET ": found (queried 9 nodes"));
    assert_non_null(strstr(out, "\n 1  " TARGET "  10.0.0.3:4000"));
    assert_non_null(strstr(out, "prefix 256 bits"));

    char *json_argv[] = {exe, "--json", "--control", sock, "status", NULL};
    assert_int_equal(run_cli(fx, exe, json_argv, noenv, out, sizeof(out)), 0);
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "links")), 2);
    json_decref(o);

    /* The peer's error is shown, exit 1. */
    fx->fake.mode = MODE_BUSY;
    assert_int_equal(run_cli(fx, exe, lookup_argv, noenv, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "HTTP 503"));
    assert_non_null(strstr(out, "busy"));

    /* Usage errors, exit 2, without asking the peer. */
    int lookups = fx->fake.lookups;
    char *bad_id[] = {exe, "--control", sock, "lookup", "abc", NULL};
    assert_int_equal(run_cli(fx, exe, bad_id, noenv, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "bad node ID"));
    char *bad_cmd[] = {exe, "--control", sock, "frobnicate", NULL};
    assert_int_equal(run_cli(fx, exe, bad_cmd, noenv, out, sizeof(out)), 2);
    char *none[] = {exe, NULL};
    assert_int_equal(run_cli(fx, exe, none, noenv, out, sizeof(out)), 2);
    assert_int_equal(fx->fake.lookups, lookups);
    char *help[] = {exe, "--help", NULL};
    assert_int_equal(run_cli(fx, exe, help, noenv, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "exit status"));

    /* No socket: exit 3 with a hint. */
    char missing[100];
    snprintf(missing, sizeof(missing), "%.60s/missing.sock", fx->dir);
    char *no_sock[] = {exe, "--control", missing, "status", NULL};
    assert_int_equal(run_cli(fx, exe, no_sock, noenv, out, sizeof(out)), 3);
    assert_non_null(strstr(out, "cordon-peer run"));
    assert_non_null(strstr(out, "--control PATH"));
    /* A stale socket nobody listens on: exit 3 too. */
    cordon_control_free(fx->ctl);
    fx->ctl = NULL;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", missing);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    assert_int_equal(run_cli(fx, exe, no_sock, noenv, out, sizeof(out)), 3);
    unlink(missing);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_suspended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_suspended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
