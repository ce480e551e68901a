/*
 * tests/unit/test_refresh.c — the refresher (peer/refresh.h) and the runtime's reloads
 * (cordon_runtime_reload_crl, cordon_runtime_reload_identity) against a real enrollment
 * server: the group setup makes an overlay in a temporary directory, runs cordon_serve()
 * in a forked child on 127.0.0.1 (port 0) and enrolls four nodes over HTTPS. Every wait is
 * bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "enroll/admin.h"
#include "enroll/server.h"
#include "peer/enroll_client.h"
#include "peer/refresh.h"
#include "peer/runtime.h"

#define NODES 4
#define OVERLAY "refresh"

static char base[64];
static char ov[128];
static char node_dir[NODES][128];
static char server[64];
static pid_t server_pid = -1;

static void must(cordon_err err)
{
    if (err != CORDON_OK)
        fail_msg("unexpected error %s", cordon_errname(err));
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < len);
}

/* ---- files ------------------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void read_all(const char *path, cordon_buf *out)
{
    cordon_buf_init(out, CORDON_CRL_MAX, false);
    must(cordon_read_file(path, CORDON_CRL_MAX, out));
}

static void copy_file(const char *from, const char *to)
{
    cordon_buf b;
    read_all(from, &b);
    must(cordon_write_file(to, b.data, b.len, 0644));
    cordon_buf_free(&b);
}

static uint64_t crl_number_in(const char *dir)
{
    char path[256];
    cordon_crl *crl = NULL;
    uint64_t n = 0;
    path_in(path, sizeof(path), dir, "crl.pem");
    must(cordon_crl_load(path, &crl));
    must(cordon_crl_number(crl, &n));
    cordon_crl_free(crl);
    return n;
}

static uint64_t crl_number_from(const char *path)
{
    cordon_crl *crl = NULL;
    uint64_t n = 0;
    must(cordon_crl_load(path, &crl));
    must(cordon_crl_number(crl, &n));
    cordon_crl_free(crl);
    return n;
}

static void serial_in(const char *dir, uint8_t serial[CORDON_SERIAL_LEN])
{
    struct cordon_enroll_identity id;
    char why[256];
    must(cordon_enroll_identity(dir, &id, why, sizeof(why)));
    memcpy(serial, id.serial, CORDON_SERIAL_LEN);
}

/* ---- the server ---------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    return cordon_buf_append(ctx, p, size * n) == CORDON_OK ? size * n : 0;
}

/* cordon_enroll_http_requests_total of the server now. */
static uint64_t server_requests(void)
{
    char url[128], ca[256];
    cordon_buf body;
    uint64_t v = UINT64_MAX;
    cordon_buf_init(&body, 256 * 1024, false);
    snprintf(url, sizeof(url), "%s/metrics", server);
    path_in(ca, sizeof(ca), ov, "ca.crt");
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    assert_true(cordon_buf_append(&body, "", 1) == CORDON_OK);
    const char *line = strstr((const char *)body.data, "\ncordon_enroll_http_requests_total ");
    assert_non_null(line);
    v = strtoull(line + strlen("\ncordon_enroll_http_requests_total "), NULL, 10);
    cordon_buf_free(&body);
    return v;
}

static void enroll(const char *token, const char *fp, size_t i)
{
    uint8_t id[CORDON_NODE_ID_LEN];
    struct cordon_enroll_options o = {
        .dir = node_dir[i], .server = server, .token = token, .ca_fingerprint = fp, .timeout = 10};
    must(cordon_enroll_node(&o, id));
}

static int group_setup(void **state)
{
    (void)state;
    char path[256], ready[256], fp[80], *token = NULL;
    size_t token_len = 0;
    uint8_t digest[32];
    cordon_cert *ca = NULL;

    cordon_log_set_level(CORDON_LOG_ERROR);
    snprintf(base, sizeof(base), "/tmp/cordon-test-refresh.XXXXXX");
    if (mkdtemp(base) == NULL)
        return -1;
    snprintf(ov, sizeof(ov), "%s/ov", base);
    for (size_t i = 0; i < NODES; i++)
        snprintf(node_dir[i], sizeof(node_dir[i]), "%s/n%zu", base, i);
    FILE *devnull = fopen("/dev/null", "w");
    FILE *tok = open_memstream(&token, &token_len);
    struct cordon_init_options init = {.dir = ov,
                                       .overlay = OVERLAY,
                                       .server_names = {"127.0.0.1"},
                                       .n_server_names = 1,
                                       .ca_validity_days = 3650};
    struct cordon_token_options to = {.dir = ov, .max_nodes = NODES, .ttl = 3600, .label = "t"};
    if (devnull == NULL || tok == NULL || cordon_admin_init(&init, devnull) != CORDON_OK ||
        cordon_admin_token(&to, tok) != CORDON_OK)
        return -1;
    fclose(tok);
    fclose(devnull);
    token[strcspn(token, "\n")] = '\0';

    path_in(ready, sizeof(ready), base, "ready");
    server_pid = fork();
    if (server_pid < 0)
        return -1;
    if (server_pid == 0) {
        /* A test process that aborts (a sanitizer report) must not leave the server behind:
         * ctest would wait for it until its timeout. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
            _exit(1);
        struct cordon_serve_config cfg;
        cordon_serve_config_default(&cfg);
        cfg.dir = ov;
        cfg.listen = "127.0.0.1:0";
        cfg.ready_file = ready;
        _exit(cordon_serve(&cfg) == CORDON_OK ? 0 : 1);
    }
    cordon_buf port;
    cordon_buf_init(&port, 64, false);
    for (int i = 0; i < 100 && port.len == 0; i++) {
        cordon_buf_reset(&port);
        if (cordon_read_file(ready, 64, &port) != CORDON_OK || port.len == 0)
            usleep(100000);
    }
    /* The bytes read are not a C string until terminated (ASan caught strcspn past them). */
    if (port.len == 0 || port.len > 10 || cordon_buf_terminate(&port) != CORDON_OK)
        return -1;
    snprintf(server, sizeof(server), "https://127.0.0.1:%.*s",
             (int)strcspn((char *)port.data, "\n"), (const char *)port.data);
    cordon_buf_free(&port);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    path_in(path, sizeof(path), ov, "ca.crt");
    if (cordon_cert_load(path, &ca) != CORDON_OK ||
        cordon_cert_fingerprint(ca, digest) != CORDON_OK)
        return -1;
    cordon_cert_free(ca);
    memcpy(fp, "sha256:", 7);
    cordon_hex_encode(digest, sizeof(digest), fp + 7);
    for (size_t i = 0; i < NODES; i++)
        enroll(token, fp, i);
    free(token);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (server_pid > 0) {
        int st;
        kill(server_pid, SIGTERM);
        for (int i = 0; i < 100 && waitpid(server_pid, &st, WNOHANG) == 0; i++)
            usleep(100000);
        if (waitpid(server_pid, &st, WNOHANG) == 0) {
            kill(server_pid, SIGKILL);
            waitpid(server_pid, &st, 0);
        }
    }
    curl_global_cleanup();
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- draining ---------------------------------------------------------------------------- */

struct seen {
    unsigned what[NODES + 1];
    unsigned calls[NODES + 1];
};

static void on_result(void *ctx, size_t index, unsigned what)
{
    struct seen *s = ctx;
    assert_true(index <= NODES);
    s->what[index] |= what;
    s->calls[index]++;
}

/* Polls the refresher's fd and drains it until every index in want[] has seen `what`, for at
 * most max_ms. */
static bool drain_until(cordon_refresher *r, struct seen *s, const size_t *want, size_t n,
                        unsigned what, uint64_t max_ms)
{
    uint64_t end = mono_ms() + max_ms;
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < n; i++)
            all = all && (s->what[want[i]] & what) == what;
        if (all)
            return true;
        uint64_t now = mono_ms();
        if (now >= end)
            return false;
        struct pollfd p = {.fd = cordon_refresher_fd(r), .events = POLLIN};
        if (poll(&p, 1, (int)(end - now)) > 0)
            cordon_refresher_drain(r, on_result, s);
    }
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_refresher_refusals(void **state)
{
    (void)state;
    struct cordon_refresher_config c;
    cordon_refresher *r = NULL;
    char bare[256];

    cordon_refresher_config_default(&c);
    assert_int_equal(c.crl_interval_s, CORDON_REFRESH_CRL_DEFAULT_S);
    assert_true(c.renew_before_s < 0);
    c.timeout_s = 0;
    assert_int_equal(cordon_refresher_new(&c, &r), CORDON_ERR_INVAL);
    c.timeout_s = 10;
    c.crl_interval_s = CORDON_REFRESH_CRL_MAX_S + 1;
    assert_int_equal(cordon_refresher_new(&c, &r), CORDON_ERR_INVAL);
    assert_null(r);
    c.crl_interval_s = 1;
    must(cordon_refresher_new(&c, &r));
    cordon_refresher_drain(r, on_result, NULL); /* not started: nothing */
    /* A directory enrolled by hand (no enrollment.json) has nothing to refresh from. */
    path_in(bare, sizeof(bare), base, "bare");
    assert_int_equal(mkdir(bare, 0700), 0);
    assert_int_equal(cordon_refresher_add(r, bare, 0), CORDON_ERR_NOT_FOUND);
    assert_int_equal(cordon_refresher_add(r, "/nonexistent/dir", 0), CORDON_ERR_NOT_FOUND);
    /* enrollment.json present but the rest missing: refused, and logged. */
    char path[256], from[256];
    path_in(path, sizeof(path), bare, "enrollment.json");
    path_in(from, sizeof(from), node_dir[0], "enrollment.json");
    copy_file(from, path);
    assert_int_equal(cordon_refresher_add(r, bare, 0), CORDON_ERR_IO);
    must(cordon_refresher_add(r, node_dir[0], 7));
    must(cordon_refresher_start(r));
    assert_int_equal(cordon_refresher_start(r), CORDON_ERR_INVAL);
    assert_int_equal(cordon_refresher_add(r, node_dir[1], 1), CORDON_ERR_INVAL);
    assert_true(cordon_refresher_fd(r) >= 0);
    /* Stopping while the thread waits for its next fetch is prompt. */
    usleep(300000);
    uint64_t t0 = mono_ms();
    cordon_refresher_free(r);
    assert_true(mono_ms() - t0 < 1000);
    cordon_refresher_free(NULL);
}

/* Three instances of one CA: one fetch per interval for all of them, the new CRL copied to
 * each directory, each reported once by the drain. */
static void test_crl_group(void **state)
{
    (void)state;
    struct cordon_refresher_config c = {.crl_interval_s = 1, .renew_before_s = 0, .timeout_s = 10};
    cordon_refresher *r = NULL;
    struct seen s;
    const size_t want[] = {0, 1, 2};
    char saved[256], path[256];
    memset(&s, 0, sizeof(s));

    uint64_t before = crl_number_in(node_dir[0]);
    path_in(saved, sizeof(saved), base, "crl.before");
    path_in(path, sizeof(path), node_dir[3], "crl.pem");
    copy_file(path, saved); /* for the rollback test */
    must(cordon_refresher_new(&c, &r));
    for (size_t i = 0; i < 3; i++)
        must(cordon_refresher_add(r, node_dir[i], i));
    must(cordon_refresher_start(r));

    /* The revocation of node 3 makes a CRL with a higher number. */
    struct cordon_enroll_identity id;
    char why[256], hex[2 * CORDON_NODE_ID_LEN + 1];
    must(cordon_enroll_identity(node_dir[3], &id, why, sizeof(why)));
    cordon_hex_encode(id.node_id, CORDON_NODE_ID_LEN, hex);
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    must(cordon_admin_revoke(ov, hex, "test", devnull));
    fclose(devnull);

    assert_true(drain_until(r, &s, want, 3, CORDON_REFRESH_CRL, 15000));
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s.what[i], CORDON_REFRESH_CRL);
        assert_true(crl_number_in(node_dir[i]) > before);
    }
    cordon_buf a, b;
    char p0[256], p2[256];
    path_in(p0, sizeof(p0), node_dir[0], "crl.pem");
    path_in(p2, sizeof(p2), node_dir[2], "crl.pem");
    read_all(p0, &a);
    read_all(p2, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    cordon_buf_free(&a);
    cordon_buf_free(&b);
    assert_int_equal(crl_number_in(node_dir[3]), before); /* not ours: untouched */

    /* Over 4 s: about one fetch a second for the group (and our own two /metrics), not
     * three. */
    uint64_t r0 = server_requests();
    uint64_t t0 = mono_ms();
    usleep(4000000);
    uint64_t r1 = server_requests();
    uint64_t secs = (mono_ms() - t0 + 999) / 1000;
    assert_true(r1 - r0 >= 2);
    assert_true(r1 - r0 <= secs + 3);
    /* Nothing changed since: nothing to drain. */
    memset(&s, 0, sizeof(s));
    cordon_refresher_drain(r, on_result, &s);
    for (size_t i = 0; i <= NODES; i++)
        assert_int_equal(s.calls[i], 0);
    cordon_refresher_free(r);
}

/* Renewal of two instances: node.crt replaced (same node ID, new serial), reported as
 * IDENTITY once each; no second renewal right after (the gap). */
static void test_renew(void **state)
{
    (void)state;
    struct cordon_refresher_config c = {
        .crl_interval_s = 0, .renew_before_s = CORDON_CERT_VALIDITY_MAX, .timeout_s = 10};
    cordon_refresher *r = NULL;
    struct seen s;
    const size_t want[] = {0, 1};
    uint8_t old0[CORDON_SERIAL_LEN], old1[CORDON_SERIAL_LEN], now0[CORDON_SERIAL_LEN];
    struct cordon_enroll_identity a, b;
    char why[256];
    memset(&s, 0, sizeof(s));

    serial_in(node_dir[0], old0);
    serial_in(node_dir[1], old1);
    must(cordon_enroll_identity(node_dir[0], &a, why, sizeof(why)));
    must(cordon_refresher_new(&c, &r));
    must(cordon_refresher_add(r, node_dir[0], 0));
    must(cordon_refresher_add(r, node_dir[1], 1));
    must(cordon_refresher_start(r));
    assert_true(drain_until(r, &s, want, 2, CORDON_REFRESH_IDENTITY, 20000));
    serial_in(node_dir[0], now0);
    assert_memory_not_equal(now0, old0, CORDON_SERIAL_LEN);
    serial_in(node_dir[1], now0);
    assert_memory_not_equal(now0, old1, CORDON_SERIAL_LEN);
    must(cordon_enroll_identity(node_dir[0], &b, why, sizeof(why)));
    assert_memory_equal(a.node_id, b.node_id, CORDON_NODE_ID_LEN);
    assert_true(b.not_after >= a.not_after);
    /* The next renewal waits CORDON_REFRESH_RENEW_GAP_S. */
    usleep(1500000);
    cordon_refresher_drain(r, on_result, &s);
    assert_int_equal(s.calls[0], 1);
    assert_int_equal(s.calls[1], 1);
    cordon_refresher_free(r);
}

/* The runtime takes a newer CRL and a renewed certificate, and refuses what it must not. */
static void test_runtime_reloads(void **state)
{
    (void)state;
    char crl_path[256], crt_path[256], saved[256], current[256], ctl[256], node_crt[256];
    cordon_runtime *rt = NULL;
    struct cordon_runtime_options o = {.dir = node_dir[2], .listen = "127.0.0.1:0"};
    uint64_t now = mono_ms();

    path_in(ctl, sizeof(ctl), base, "n2.sock");
    o.control = ctl;
    path_in(crl_path, sizeof(crl_path), node_dir[2], "crl.pem");
    path_in(crt_path, sizeof(crt_path), node_dir[2], "node.crt");
    path_in(saved, sizeof(saved), base, "crl.before");
    path_in(current, sizeof(current), base, "crl.current");
    path_in(node_crt, sizeof(node_crt), base, "n2.crt");
    copy_file(crt_path, node_crt);
    copy_file(crl_path, current);
    /* It starts with the CRL of before the revocation of test_crl_group. */
    copy_file(saved, crl_path);
    assert_true(crl_number_in(node_dir[2]) < crl_number_from(current));
    must(cordon_runtime_new(&o, now, &rt));

    /* The CRL it started with again: nothing to do. */
    must(cordon_runtime_reload_crl(rt, now));
    /* Not a CRL at all, or none. */
    must(cordon_write_file(crl_path, "garbage\n", 8, 0644));
    assert_int_not_equal(cordon_runtime_reload_crl(rt, now), CORDON_OK);
    assert_int_equal(remove(crl_path), 0);
    assert_int_equal(cordon_runtime_reload_crl(rt, now), CORDON_ERR_NOT_FOUND);
    /* A CRL with a higher number, of another CA. */
    cordon_key *k = NULL;
    cordon_cert *fake_ca = NULL;
    cordon_crl *fake = NULL;
    cordon_buf pem;
    cordon_buf_init(&pem, CORDON_CRL_MAX, false);
    int64_t t = (int64_t)time(NULL);
    must(cordon_key_generate(CORDON_KEY_P256, &k));
    must(cordon_ca_create(k, OVERLAY, t - 3600, t + 86400, &fake_ca));
    must(cordon_crl_create(k, fake_ca, 1000, t - 60, t + 3600, NULL, 0, &fake));
    must(cordon_crl_pem(fake, &pem));
    must(cordon_write_file(crl_path, pem.data, pem.len, 0644));
    assert_int_equal(cordon_runtime_reload_crl(rt, now), CORDON_ERR_CRL);
    cordon_buf_free(&pem);
    cordon_crl_free(fake);
    cordon_cert_free(fake_ca);
    cordon_key_free(k);
    /* The newer one of the overlay's CA: taken. */
    copy_file(current, crl_path);
    must(cordon_runtime_reload_crl(rt, now));
    /* Back to the older one: no rollback. */
    copy_file(saved, crl_path);
    assert_int_equal(cordon_runtime_reload_crl(rt, now), CORDON_ERR_CRL);
    copy_file(current, crl_path);
    must(cordon_runtime_reload_crl(rt, now));

    /* Another node's certificate: not our key. */
    char n1_crt[256];
    path_in(n1_crt, sizeof(n1_crt), node_dir[1], "node.crt");
    copy_file(n1_crt, crt_path);
    assert_int_equal(cordon_runtime_reload_identity(rt, now), CORDON_ERR_KEY_TYPE);
    must(cordon_write_file(crt_path, "garbage\n", 8, 0644));
    assert_int_not_equal(cordon_runtime_reload_identity(rt, now), CORDON_OK);
    /* Its own certificate again: nothing to do. */
    copy_file(node_crt, crt_path);
    must(cordon_runtime_reload_identity(rt, now));
    /* A renewed one: taken, the node ID unchanged. */
    uint8_t id_before[CORDON_NODE_ID_LEN];
    memcpy(id_before, cordon_runtime_node_id(rt), CORDON_NODE_ID_LEN);
    char why[256];
    must(cordon_enroll_renew(node_dir[2], 10, why, sizeof(why)));
    must(cordon_runtime_reload_identity(rt, now));
    assert_memory_equal(cordon_runtime_node_id(rt), id_before, CORDON_NODE_ID_LEN);
    /* The superseded certificate back on disk is still a valid one of this node: taken. */
    copy_file(node_crt, crt_path);
    must(cordon_runtime_reload_identity(rt, now));
    cordon_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refresher_refusals),
        cmocka_unit_test(test_crl_group),
        cmocka_unit_test(test_renew),
        cmocka_unit_test(test_runtime_reloads),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
